/* flamegraph: SVG flame graphs rendered natively, and differential flame
 * graphs of two profiles (module prefix fg_).
 *
 * A profile is a stack tree (struct fg_tree): every node is one frame
 * reached by one path from the root, with the samples whose stack passes
 * through it (total) and those that end in it (self). Trees are built from
 * folded stacks -- lines "root;caller;callee COUNT", the FlameGraph
 * convention the analyzer's folded output follows -- or by adding stacks
 * one at a time (fg_tree_add), e.g. from the analyzer's aggregates.
 *
 * Ownership, stated once: a tree owns all its nodes and a copy of every
 * frame name (interned once per tree); fg_tree_free() releases everything.
 * Callers keep ownership of the strings and buffers they pass in. The SVG
 * renderers append to a caller-owned kb_buf.
 *
 * The SVG:
 * - frames are <g class="fg-frame"> groups holding a <title> tooltip
 *   ("NAME (N samples, P%)"), a <rect> whose width is
 *   samples / root samples * (width - 2 * FG_XPAD), and a <text> label
 *   trimmed with ".." to fit the rect (none when under three characters fit);
 * - frames are laid out with children sorted by name (byte order), so the
 *   same profile always yields the same picture, and frames narrower than
 *   opts->min_width pixels (and everything above them) are left out;
 * - colours come from a hash of the frame name (warm palette) in a plain
 *   graph, and from the change of a frame's share in a differential one:
 *   red where the new profile spends a larger share of its samples in the
 *   frame than the base did, blue where a smaller one, white where equal,
 *   saturated at the largest change in the graph;
 * - a small inline script (no network) gives a "Search" control that
 *   highlights frames matching a regular expression and prints the share of
 *   samples matched, and click-to-zoom on a frame ("Reset zoom" undoes it).
 *   The script only touches its own <svg> (found by its id), so several
 *   graphs can live on one HTML page. */
#ifndef KB_REPORTS_FLAMEGRAPH_H
#define KB_REPORTS_FLAMEGRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "util/kb_buf.h"
#include "util/kb_error.h"

#define FG_XPAD 10 /* pixels left and right of the frames */

/* One frame of the tree. Indices are into fg_tree.nodes; 0 is the root
 * ("all"), whose parent is itself. */
struct fg_node {
	uint32_t name;                      /* index into the tree's name table */
	uint32_t parent;                    /* node index */
	uint32_t first_child, next_sibling; /* 0 = none (the root is never a child) */
	uint32_t depth;                     /* 0 for the root */
	uint64_t total;                     /* samples whose stack passes through this frame */
	uint64_t self;                      /* samples whose stack ends here */
};

struct fg_tree {
	struct fg_node *nodes; /* nodes[0] is the root */
	size_t n_nodes, cap_nodes;
	/* Interned names: names[i] is a NUL-terminated copy owned by the tree. */
	char **names;
	size_t n_names, cap_names;
	/* Open-addressing hash tables (private): name -> index, and
	 * (parent, name) -> child node. */
	uint32_t *name_slots, *child_slots;
	size_t name_slot_cap, child_slot_cap;
	uint32_t max_depth;
};

/* Initializes an empty tree (just the root, named "all"). 0 or -1 (OOM). */
int fg_tree_init(struct fg_tree *t, struct kb_error *err);
void fg_tree_free(struct fg_tree *t);

/* Adds `count` samples of the stack frames[0..n-1], outermost first. n may
 * be 0 (samples with no stack count for the root only). Empty names are
 * stored as "[unknown]". */
int fg_tree_add(struct fg_tree *t, const char *const *frames, size_t n, uint64_t count,
		struct kb_error *err);

/* Adds `count` samples of one folded stack "outer;...;leaf" (split on ';';
 * an empty string is the root itself). */
int fg_tree_add_path(struct fg_tree *t, const char *stack, uint64_t count, struct kb_error *err);

/* Parses folded stacks from text[0..len-1] into t (adding to what it has).
 * Each non-empty line is "f1;f2;...;fn COUNT": frames separated by ';',
 * then blanks, then a decimal count. `origin` names the input in errors
 * ("profile.folded:7: no sample count at the end of the line"). */
int fg_tree_parse_folded(struct fg_tree *t, const char *text, size_t len, const char *origin,
			 struct kb_error *err);

/* Reads a whole folded-stacks file (or standard input for "-") into t. */
int fg_tree_load_folded(struct fg_tree *t, const char *path, struct kb_error *err);

static inline const char *fg_node_name(const struct fg_tree *t, uint32_t node)
{
	return t->names[t->nodes[node].name];
}

/* The child of `parent` named `name`, or 0 when there is none. */
uint32_t fg_tree_find_child(const struct fg_tree *t, uint32_t parent, const char *name);

/* Visits every node depth-first, the root first and children in name order
 * (the flame graph's layout order). `visit` returns 0 to go on, nonzero to
 * stop (that value is returned). -1 with err set when memory runs out. */
typedef int (*fg_visit_fn)(const struct fg_tree *t, uint32_t node, void *ctx);
int fg_tree_walk(const struct fg_tree *t, fg_visit_fn visit, void *ctx, struct kb_error *err);

struct fg_opts {
	const char *title;      /* NULL: "Flame Graph" / "Differential Flame Graph" */
	const char *subtitle;   /* NULL: none */
	const char *id;         /* the <svg> id, unique on a page; NULL: "kbfg" */
	unsigned width;         /* pixels; 0: 1200 */
	unsigned frame_height;  /* pixels; 0: 16 */
	double font_size;       /* pixels; 0: 12 */
	double min_width;       /* pixels; frames narrower are left out; <= 0: 0.1 */
	int embed;              /* nonzero: no XML declaration (for inline HTML) */
	const char *count_name; /* what a sample is called in tooltips; NULL: "samples" */
};

/* Renders t as an SVG flame graph onto out. opts may be NULL. */
int fg_render_svg(const struct fg_tree *t, const struct fg_opts *opts, struct kb_buf *out,
		  struct kb_error *err);

/* Renders a differential flame graph: the shape (frames and widths) of
 * `now`, each frame coloured by the change of its share of all samples from
 * `base` to `now` (share = frame total / root total). Tooltips give both
 * shares and the change in percentage points. Frames of `base` that `now`
 * no longer has are not drawn (their samples are gone); the subtitle line
 * reports their number. Both trees need samples. */
int fg_render_diff_svg(const struct fg_tree *base, const struct fg_tree *now,
		       const struct fg_opts *opts, struct kb_buf *out, struct kb_error *err);

#endif
