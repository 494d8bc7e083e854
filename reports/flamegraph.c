/* flamegraph: stack trees and their SVG rendering (see flamegraph.h).
 * Owns: the nodes, interned names and hash tables of each fg_tree. */
#include "reports/flamegraph.h"

#include "reports/xmlesc.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define NO_NODE UINT32_MAX
#define MAX_NODES (UINT32_MAX - 1)

/* ---- the tree ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

static uint64_t hash_name(const char *s, size_t len)
{
	return XXH64(s, len, 0);
}

static uint64_t hash_child(uint32_t parent, uint32_t name)
{
	uint64_t key = (uint64_t)parent << 32 | name;
	return XXH64(&key, sizeof key, 1);
}

/* Rebuilds a table of `cap` slots (a power of two) from scratch. */
static int rehash_names(struct fg_tree *t, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < t->n_names; i++) {
		size_t h = hash_name(t->names[i], strlen(t->names[i])) & (cap - 1);
		while (slots[h])
			h = (h + 1) & (cap - 1);
		slots[h] = (uint32_t)i + 1;
	}
	free(t->name_slots);
	t->name_slots = slots;
	t->name_slot_cap = cap;
	return 0;
}

static int rehash_children(struct fg_tree *t, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 1; i < t->n_nodes; i++) {
		size_t h = hash_child(t->nodes[i].parent, t->nodes[i].name) & (cap - 1);
		while (slots[h])
			h = (h + 1) & (cap - 1);
		slots[h] = (uint32_t)i;
	}
	free(t->child_slots);
	t->child_slots = slots;
	t->child_slot_cap = cap;
	return 0;
}

/* Looks a name up; returns its index or NO_NODE. */
static uint32_t lookup_name(const struct fg_tree *t, const char *s, size_t len)
{
	size_t mask = t->name_slot_cap - 1;
	for (size_t h = hash_name(s, len) & mask; t->name_slots[h]; h = (h + 1) & mask) {
		uint32_t i = t->name_slots[h] - 1;
		if (strncmp(t->names[i], s, len) == 0 && t->names[i][len] == '\0')
			return i;
	}
	return NO_NODE;
}

static int intern(struct fg_tree *t, const char *s, size_t len, uint32_t *out)
{
	if (len == 0) {
		s = "[unknown]";
		len = strlen(s);
	}
	uint32_t i = lookup_name(t, s, len);
	if (i != NO_NODE) {
		*out = i;
		return 0;
	}
	if (t->n_names >= MAX_NODES)
		return -1;
	if ((t->n_names + 1) * 2 > t->name_slot_cap && rehash_names(t, t->name_slot_cap * 2))
		return -1;
	if (grow((void **)&t->names, &t->cap_names, t->n_names + 1, sizeof *t->names))
		return -1;
	char *copy = strndup(s, len);
	if (!copy)
		return -1;
	t->names[t->n_names] = copy;
	size_t mask = t->name_slot_cap - 1;
	size_t h = hash_name(s, len) & mask;
	while (t->name_slots[h])
		h = (h + 1) & mask;
	t->name_slots[h] = (uint32_t)t->n_names + 1;
	*out = (uint32_t)t->n_names++;
	return 0;
}

static uint32_t find_child_id(const struct fg_tree *t, uint32_t parent, uint32_t name)
{
	size_t mask = t->child_slot_cap - 1;
	for (size_t h = hash_child(parent, name) & mask; t->child_slots[h]; h = (h + 1) & mask) {
		uint32_t c = t->child_slots[h];
		if (t->nodes[c].parent == parent && t->nodes[c].name == name)
			return c;
	}
	return 0;
}

/* The child of parent named s[0..len-1], created when missing; 0 on OOM. */
static uint32_t descend(struct fg_tree *t, uint32_t parent, const char *s, size_t len)
{
	uint32_t name;
	if (intern(t, s, len, &name))
		return 0;
	uint32_t c = find_child_id(t, parent, name);
	if (c)
		return c;
	if (t->n_nodes >= MAX_NODES)
		return 0;
	if ((t->n_nodes + 1) * 2 > t->child_slot_cap && rehash_children(t, t->child_slot_cap * 2))
		return 0;
	if (grow((void **)&t->nodes, &t->cap_nodes, t->n_nodes + 1, sizeof *t->nodes))
		return 0;
	c = (uint32_t)t->n_nodes++;
	struct fg_node *p = &t->nodes[parent];
	t->nodes[c] = (struct fg_node){
	    .name = name,
	    .parent = parent,
	    .next_sibling = p->first_child,
	    .depth = p->depth + 1,
	};
	p->first_child = c;
	if (t->nodes[c].depth > t->max_depth)
		t->max_depth = t->nodes[c].depth;
	size_t mask = t->child_slot_cap - 1;
	size_t h = hash_child(parent, name) & mask;
	while (t->child_slots[h])
		h = (h + 1) & mask;
	t->child_slots[h] = c;
	return c;
}

int fg_tree_init(struct fg_tree *t, struct kb_error *err)
{
	memset(t, 0, sizeof *t);
	t->name_slot_cap = t->child_slot_cap = 64;
	t->name_slots = calloc(t->name_slot_cap, sizeof *t->name_slots);
	t->child_slots = calloc(t->child_slot_cap, sizeof *t->child_slots);
	uint32_t root_name;
	if (!t->name_slots || !t->child_slots || intern(t, "all", 3, &root_name) ||
	    grow((void **)&t->nodes, &t->cap_nodes, 1, sizeof *t->nodes)) {
		fg_tree_free(t);
		return kb_error_set(err, "flame graph: out of memory");
	}
	t->nodes[0] = (struct fg_node){.name = root_name};
	t->n_nodes = 1;
	return 0;
}

void fg_tree_free(struct fg_tree *t)
{
	for (size_t i = 0; i < t->n_names; i++)
		free(t->names[i]);
	free(t->names);
	free(t->nodes);
	free(t->name_slots);
	free(t->child_slots);
	memset(t, 0, sizeof *t);
}

uint32_t fg_tree_find_child(const struct fg_tree *t, uint32_t parent, const char *name)
{
	uint32_t id = lookup_name(t, name, strlen(name));
	return id == NO_NODE ? 0 : find_child_id(t, parent, id);
}

static int add_count(struct fg_tree *t, uint32_t leaf, uint64_t count, struct kb_error *err)
{
	if (t->nodes[0].total > UINT64_MAX - count)
		return kb_error_set(err, "sample counts overflow 64 bits");
	t->nodes[leaf].self += count;
	for (uint32_t n = leaf;; n = t->nodes[n].parent) {
		t->nodes[n].total += count;
		if (n == 0)
			break;
	}
	return 0;
}

int fg_tree_add(struct fg_tree *t, const char *const *frames, size_t n, uint64_t count,
		struct kb_error *err)
{
	uint32_t node = 0;
	for (size_t i = 0; i < n; i++) {
		node = descend(t, node, frames[i], strlen(frames[i]));
		if (!node)
			return kb_error_set(err, "flame graph: out of memory (%zu frames)",
					    t->n_nodes);
	}
	return add_count(t, node, count, err);
}

int fg_tree_add_path(struct fg_tree *t, const char *stack, uint64_t count, struct kb_error *err)
{
	uint32_t node = 0;
	size_t len = strlen(stack);
	for (size_t f = 0; len > 0 && f <= len;) {
		const char *semi = memchr(stack + f, ';', len - f);
		size_t fe = semi ? (size_t)(semi - stack) : len;
		node = descend(t, node, stack + f, fe - f);
		if (!node)
			return kb_error_set(err, "flame graph: out of memory (%zu frames)",
					    t->n_nodes);
		f = fe + 1;
	}
	return add_count(t, node, count, err);
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int fg_tree_parse_folded(struct fg_tree *t, const char *text, size_t len, const char *origin,
			 struct kb_error *err)
{
	size_t lineno = 0;
	for (size_t pos = 0; pos < len;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos;
		pos += ll + (nl != NULL);
		lineno++;
		while (ll > 0 && (line[ll - 1] == '\r' || is_blank(line[ll - 1])))
			ll--;
		size_t start = 0;
		while (start < ll && is_blank(line[start]))
			start++;
		if (start == ll)
			continue;
		if (memchr(line, '\0', ll))
			return kb_error_set(err, "%s:%zu: NUL byte in a folded stack", origin,
					    lineno);
		size_t d = ll;
		while (d > start && line[d - 1] >= '0' && line[d - 1] <= '9')
			d--;
		if (d == ll || (d > start && !is_blank(line[d - 1])))
			return kb_error_set(err,
					    "%s:%zu: no sample count at the end of the line "
					    "(expected \"frame;frame;... COUNT\")",
					    origin, lineno);
		uint64_t count = 0;
		for (size_t i = d; i < ll; i++) {
			unsigned digit = (unsigned)(line[i] - '0');
			if (count > (UINT64_MAX - digit) / 10)
				return kb_error_set(err, "%s:%zu: sample count too large", origin,
						    lineno);
			count = count * 10 + digit;
		}
		size_t se = d;
		while (se > start && is_blank(line[se - 1]))
			se--;
		if (se == start)
			return kb_error_set(err, "%s:%zu: a count with no stack before it", origin,
					    lineno);
		uint32_t node = 0;
		for (size_t f = start; f <= se;) {
			const char *semi = memchr(line + f, ';', se - f);
			size_t fe = semi ? (size_t)(semi - line) : se;
			node = descend(t, node, line + f, fe - f);
			if (!node)
				return kb_error_set(err, "%s:%zu: out of memory (%zu frames)",
						    origin, lineno, t->n_nodes);
			f = fe + 1;
		}
		if (add_count(t, node, count, NULL))
			return kb_error_set(err, "%s:%zu: sample counts overflow 64 bits", origin,
					    lineno);
	}
	return 0;
}

int fg_tree_load_folded(struct fg_tree *t, const char *path, struct kb_error *err)
{
	int is_stdin = strcmp(path, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	if (!f)
		return kb_error_set(err, "%s: %s", path, strerror(errno));
	struct kb_buf b = {0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		kb_buf_add(&b, chunk, n);
	int rc = 0;
	if (ferror(f))
		rc = kb_error_set(err, "%s: read error: %s", path, strerror(errno));
	else if (b.oom)
		rc = kb_error_set(err, "%s: out of memory", path);
	if (!is_stdin)
		fclose(f);
	if (rc == 0)
		rc = fg_tree_parse_folded(t, b.data ? b.data : "", b.len,
					  is_stdin ? "<stdin>" : path, err);
	kb_buf_free(&b);
	return rc;
}

/* ---- layout ---- */

/* Children of every node sorted by name: kids[start[n] .. start[n+1]-1]. */
struct order {
	uint32_t *kids;
	uint32_t *start; /* n_nodes + 1 entries */
};

static int by_parent_then_name(const void *a, const void *b, void *arg)
{
	const struct fg_tree *t = arg;
	const struct fg_node *x = &t->nodes[*(const uint32_t *)a];
	const struct fg_node *y = &t->nodes[*(const uint32_t *)b];
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return strcmp(t->names[x->name], t->names[y->name]);
}

static int order_build(const struct fg_tree *t, struct order *o)
{
	size_t n = t->n_nodes;
	o->kids = malloc((n ? n : 1) * sizeof *o->kids);
	o->start = calloc(n + 1, sizeof *o->start);
	if (!o->kids || !o->start)
		return -1;
	for (size_t i = 1; i < n; i++)
		o->kids[i - 1] = (uint32_t)i;
	qsort_r(o->kids, n - 1, sizeof *o->kids, by_parent_then_name, (void *)t);
	/* start[p] = first index in kids whose parent is >= p. */
	size_t k = 0;
	for (size_t p = 0; p <= n; p++) {
		while (k < n - 1 && t->nodes[o->kids[k]].parent < p)
			k++;
		o->start[p] = (uint32_t)k;
	}
	return 0;
}

static void order_free(struct order *o)
{
	free(o->kids);
	free(o->start);
}

int fg_tree_walk(const struct fg_tree *t, fg_visit_fn visit, void *ctx, struct kb_error *err)
{
	struct order o = {0};
	uint32_t *stack = malloc(t->n_nodes * sizeof *stack);
	if (!stack || order_build(t, &o)) {
		free(stack);
		order_free(&o);
		return kb_error_set(err, "stack tree walk: out of memory");
	}
	size_t sp = 0;
	int rc = 0;
	stack[sp++] = 0;
	while (sp > 0 && rc == 0) {
		uint32_t n = stack[--sp];
		rc = visit(t, n, ctx);
		for (uint32_t k = o.start[n + 1]; k-- > o.start[n];)
			stack[sp++] = o.kids[k];
	}
	free(stack);
	order_free(&o);
	return rc;
}

/* A frame to draw, in depth-first order. */
struct placed {
	uint32_t node;
	double x, w; /* pixels */
};

struct layout {
	struct placed *frames;
	size_t n;
	uint32_t max_depth; /* of drawn frames */
};

/* Places every frame at least min_width wide, depth-first, children in name
 * order, starting at their parent's left edge. */
static int layout_build(const struct fg_tree *t, const struct order *o, double scale,
			double min_width, struct layout *l)
{
	memset(l, 0, sizeof *l);
	size_t cap = 0;
	struct item {
		uint32_t node;
		double x;
	} *stack = malloc((t->n_nodes ? t->n_nodes : 1) * sizeof *stack);
	if (!stack)
		return -1;
	size_t sp = 0;
	stack[sp++] = (struct item){0, FG_XPAD};
	while (sp > 0) {
		struct item it = stack[--sp];
		const struct fg_node *nd = &t->nodes[it.node];
		double w = (double)nd->total * scale;
		if (w < min_width)
			continue;
		if (grow((void **)&l->frames, &cap, l->n + 1, sizeof *l->frames)) {
			free(stack);
			return -1;
		}
		l->frames[l->n++] = (struct placed){it.node, it.x, w};
		if (nd->depth > l->max_depth)
			l->max_depth = nd->depth;
		/* Push children right to left so they pop in name order; each
		 * starts where its left siblings end. */
		double x = it.x;
		for (uint32_t k = o->start[it.node]; k < o->start[it.node + 1]; k++)
			x += (double)t->nodes[o->kids[k]].total * scale;
		for (uint32_t k = o->start[it.node + 1]; k-- > o->start[it.node];) {
			uint32_t c = o->kids[k];
			x -= (double)t->nodes[c].total * scale;
			stack[sp++] = (struct item){c, x};
		}
	}
	free(stack);
	return 0;
}

/* ---- SVG output ---- */

/* Identifiers used in element ids and the script: [A-Za-z0-9_-] only. */
static int valid_id(const char *id)
{
	if (!*id || strlen(id) > 64)
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* Thousands separators: 1234567 -> "1,234,567". */
static void put_count(struct kb_buf *b, uint64_t v)
{
	char digits[32];
	int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			kb_buf_putc(b, ',');
		kb_buf_putc(b, digits[i]);
	}
}

static void hot_colour(const char *name, char out[32])
{
	uint64_t h = hash_name(name, strlen(name));
	double v1 = (double)(h & 0xFF) / 255.0;
	double v2 = (double)(h >> 8 & 0xFF) / 255.0;
	double v3 = (double)(h >> 16 & 0xFF) / 255.0;
	snprintf(out, 32, "rgb(%d,%d,%d)", 205 + (int)(50 * v1), 60 + (int)(170 * v2),
		 (int)(60 * v3));
}

/* White at no change, saturating to red (grew) or blue (shrank) at the
 * largest change in the graph. */
static void diff_colour(double delta, double max_abs, char out[32])
{
	double v = max_abs > 0 ? fabs(delta) / max_abs : 0;
	if (v > 1)
		v = 1;
	int fade = (int)lround(228 - 188 * v);
	if (delta > 0)
		snprintf(out, 32, "rgb(255,%d,%d)", fade, fade);
	else if (delta < 0)
		snprintf(out, 32, "rgb(%d,%d,255)", fade, fade);
	else
		snprintf(out, 32, "rgb(228,228,228)");
}

struct resolved {
	const char *title, *id, *count_name;
	unsigned width, fh;
	double font, min_width, char_w;
	int embed;
};

static int resolve_opts(const struct fg_opts *o, const char *default_title, struct resolved *r,
			struct kb_error *err)
{
	static const struct fg_opts none;
	if (!o)
		o = &none;
	r->title = o->title ? o->title : default_title;
	r->id = o->id ? o->id : "kbfg";
	r->count_name = o->count_name ? o->count_name : "samples";
	r->width = o->width ? o->width : 1200;
	r->fh = o->frame_height ? o->frame_height : 16;
	r->font = o->font_size > 0 ? o->font_size : 12;
	r->min_width = o->min_width > 0 ? o->min_width : 0.1;
	r->char_w = r->font * 0.59;
	r->embed = o->embed;
	if (!valid_id(r->id))
		return kb_error_set(
		    err, "flame graph: id '%s' is not 1-64 characters of [A-Za-z0-9_-]", r->id);
	if (r->width < 2 * FG_XPAD + 10 || r->width > 100000)
		return kb_error_set(err, "flame graph: width %u is out of range (30..100000)",
				    r->width);
	if (r->fh < 4 || r->fh > 200)
		return kb_error_set(err, "flame graph: frame height %u is out of range (4..200)",
				    r->fh);
	return 0;
}

/* The interactive part: search and zoom, confined to the <svg> with id ID.
 * Frames are read back from the DOM, so the script has no data of its own. */
static const char fg_script[] =
    "(function(){\n"
    "var svg=document.getElementById(ID),NS='http://www.w3.org/2000/svg';\n"
    "var q=function(s){return svg.querySelector('.'+s);};\n"
    "var details=q('fg-details'),matched=q('fg-matched'),search=q('fg-search'),"
    "unzoom=q('fg-unzoom');\n"
    "var frames=[].slice.call(svg.querySelectorAll('g.fg-frame')).map(function(g){\n"
    "  var r=g.querySelector('rect'),t=g.querySelector('title').textContent;\n"
    "  return {g:g,r:r,l:g.querySelector('text'),x:+r.getAttribute('x'),"
    "w:+r.getAttribute('width'),y:+r.getAttribute('y'),fill:r.getAttribute('fill'),"
    "tip:t,name:t.substring(0,t.lastIndexOf(' ('))};\n"
    "});\n"
    "function label(f,x,w){\n"
    "  if(!f.l)return;var n=Math.floor((w-3)/CW);\n"
    "  f.l.setAttribute('x',x+3);\n"
    "  f.l.textContent=n<3?'':f.name.length<=n?f.name:f.name.substring(0,n-2)+'..';\n"
    "}\n"
    "function place(f,x,w,show){f.g.style.display=show?'':'none';if(!show)return;\n"
    "  f.r.setAttribute('x',x);f.r.setAttribute('width',w);label(f,x,w);}\n"
    "function zoom(z){\n"
    "  var k=(FULL)/z.w;\n"
    "  frames.forEach(function(f){\n"
    "    var inside=f.x>=z.x-1e-6&&f.x+f.w<=z.x+z.w+1e-6;\n"
    "    if(f.y<=z.y&&inside){place(f,XPAD+(f.x-z.x)*k,f.w*k,f.w*k>=0.1);"
    "f.g.classList.remove('fg-parent');}\n"
    "    else if(f.y>z.y&&f.x<=z.x+1e-6&&f.x+f.w>=z.x+z.w-1e-6){place(f,XPAD,FULL,1);"
    "f.g.classList.add('fg-parent');}\n"
    "    else place(f,f.x,f.w,0);\n"
    "  });\n"
    "  unzoom.style.opacity=1;\n"
    "}\n"
    "function reset(){frames.forEach(function(f){place(f,f.x,f.w,1);"
    "f.g.classList.remove('fg-parent');});unzoom.style.opacity=0;}\n"
    "function find(re){\n"
    "  var spans=[],hit=0;\n"
    "  frames.forEach(function(f){var m=re&&re.test(f.name);"
    "f.r.setAttribute('fill',m?'rgb(230,0,230)':f.fill);"
    "if(m){hit++;spans.push([f.x,f.x+f.w]);}});\n"
    "  spans.sort(function(a,b){return a[0]-b[0];});\n"
    "  var total=0,end=-1;\n"
    "  spans.forEach(function(s){if(s[1]<=end)return;total+=s[1]-Math.max(s[0],end);"
    "end=s[1];});\n"
    "  matched.textContent=re?'Matched: '+(100*total/(FULL)).toFixed(1)+'% ('+hit+' frames)':'';\n"
    "  search.textContent=re?'Reset search':'Search';\n"
    "}\n"
    "var active=null;\n"
    "search.addEventListener('click',function(){\n"
    "  if(active){active=null;find(null);return;}\n"
    "  var s=window.prompt('Search for frames matching (regular expression):','');\n"
    "  if(!s)return;try{active=new RegExp(s);}catch(e){details.textContent='Bad expression: "
    "'+e.message;return;}\n"
    "  find(active);\n"
    "});\n"
    "unzoom.addEventListener('click',reset);\n"
    "frames.forEach(function(f){\n"
    "  f.g.addEventListener('click',function(){zoom(f);});\n"
    "  f.g.addEventListener('mouseover',function(){details.textContent=f.tip;});\n"
    "  f.g.addEventListener('mouseout',function(){details.textContent=' ';});\n"
    "});\n"
    "})();\n";

/* Writes the script with its constants substituted. */
static void put_script(struct kb_buf *b, const struct resolved *r)
{
	kb_buf_printf(b, "<script type=\"text/javascript\"><![CDATA[\n");
	kb_buf_printf(b, "/* kbprof flame graph: search and click-to-zoom. */\n");
	const char *s = fg_script;
	while (*s) {
		if (strncmp(s, "ID", 2) == 0) {
			kb_buf_printf(b, "'%s'", r->id);
			s += 2;
		} else if (strncmp(s, "CW", 2) == 0) {
			kb_buf_printf(b, "%.3f", r->char_w);
			s += 2;
		} else if (strncmp(s, "XPAD", 4) == 0) {
			kb_buf_printf(b, "%d", FG_XPAD);
			s += 4;
		} else if (strncmp(s, "FULL", 4) == 0) {
			kb_buf_printf(b, "%d", (int)r->width - 2 * FG_XPAD);
			s += 4;
		} else {
			kb_buf_putc(b, *s++);
		}
	}
	kb_buf_puts(b, "]]></script>\n");
}

/* What a frame looks like: colour and tooltip suffix. */
struct frame_style {
	char fill[32];
	struct kb_buf tip; /* after "NAME (" and before ")" */
};

typedef void (*style_fn)(const struct fg_tree *t, uint32_t node, void *ctx, struct frame_style *st);

static int render(const struct fg_tree *t, const struct resolved *r, const char *subtitle,
		  style_fn style, void *ctx, struct kb_buf *out, struct kb_error *err)
{
	if (t->nodes[0].total == 0)
		return kb_error_set(err, "flame graph: the profile has no samples");
	struct order o = {0};
	struct layout l = {0};
	if (order_build(t, &o)) {
		order_free(&o);
		return kb_error_set(err, "flame graph: out of memory");
	}
	double full = (double)r->width - 2 * FG_XPAD;
	double scale = full / (double)t->nodes[0].total;
	if (layout_build(t, &o, scale, r->min_width, &l)) {
		order_free(&o);
		free(l.frames);
		return kb_error_set(err, "flame graph: out of memory");
	}
	double top = r->font * 2 + 14 + (subtitle ? r->font + 4 : 0);
	double bottom = r->font + 14;
	double height = top + (double)(l.max_depth + 1) * r->fh + bottom;

	if (!r->embed)
		kb_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
	kb_buf_printf(out,
		      "<svg id=\"%s\" class=\"kbfg\" version=\"1.1\" width=\"%u\" height=\"%.0f\" "
		      "viewBox=\"0 0 %u %.0f\" xmlns=\"http://www.w3.org/2000/svg\" "
		      "font-family=\"Verdana, sans-serif\" font-size=\"%.1f\">\n",
		      r->id, r->width, height, r->width, height, r->font);
	kb_buf_printf(out,
		      "<style>#%s .fg-frame{cursor:pointer} #%s .fg-frame:hover rect"
		      "{stroke:#000;stroke-width:0.5} #%s .fg-parent{opacity:0.5} #%s .fg-ctl"
		      "{cursor:pointer;fill:#333} #%s .fg-frame text{pointer-events:none;"
		      "fill:#000}</style>\n",
		      r->id, r->id, r->id, r->id, r->id);
	kb_buf_printf(out,
		      "<rect class=\"fg-background\" x=\"0\" y=\"0\" width=\"%u\" height=\"%.0f\" "
		      "fill=\"#f8f8f4\"/>\n",
		      r->width, height);
	kb_buf_printf(out,
		      "<text class=\"fg-title\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
		      "font-size=\"%.1f\">",
		      r->width / 2.0, r->font + 8, r->font + 5);
	xml_escape(out, r->title, SIZE_MAX);
	kb_buf_puts(out, "</text>\n");
	if (subtitle) {
		kb_buf_printf(out,
			      "<text class=\"fg-subtitle\" x=\"%.1f\" y=\"%.1f\" "
			      "text-anchor=\"middle\" fill=\"#555\">",
			      r->width / 2.0, r->font * 2 + 12);
		xml_escape(out, subtitle, SIZE_MAX);
		kb_buf_puts(out, "</text>\n");
	}
	kb_buf_printf(out,
		      "<text class=\"fg-unzoom fg-ctl\" x=\"%d\" y=\"%.1f\" opacity=\"0\">Reset "
		      "zoom</text>\n",
		      FG_XPAD, r->font + 8);
	kb_buf_printf(out,
		      "<text class=\"fg-search fg-ctl\" x=\"%.1f\" y=\"%.1f\" "
		      "text-anchor=\"end\">Search</text>\n",
		      r->width - (double)FG_XPAD, r->font + 8);
	kb_buf_printf(out,
		      "<text class=\"fg-matched\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\"> "
		      "</text>\n",
		      r->width - (double)FG_XPAD, height - 8);
	kb_buf_printf(out, "<text class=\"fg-details\" x=\"%d\" y=\"%.1f\"> </text>\n", FG_XPAD,
		      height - 8);

	kb_buf_puts(out, "<g class=\"fg-frames\">\n");
	struct frame_style st = {0};
	for (size_t i = 0; i < l.n; i++) {
		const struct placed *p = &l.frames[i];
		const struct fg_node *nd = &t->nodes[p->node];
		const char *name = fg_node_name(t, p->node);
		double y = height - bottom - (double)(nd->depth + 1) * r->fh;
		kb_buf_reset(&st.tip);
		style(t, p->node, ctx, &st);
		kb_buf_puts(out, "<g class=\"fg-frame\"><title>");
		xml_escape(out, name, SIZE_MAX);
		kb_buf_puts(out, " (");
		xml_escape(out, st.tip.data ? st.tip.data : "", SIZE_MAX);
		kb_buf_printf(out,
			      ")</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%u\" "
			      "fill=\"%s\" rx=\"2\" ry=\"2\"/>",
			      p->x, y, p->w, r->fh - 1, st.fill);
		size_t fit = p->w > 3 ? (size_t)((p->w - 3) / r->char_w) : 0;
		if (fit >= 3) {
			kb_buf_printf(out, "<text x=\"%.2f\" y=\"%.1f\">", p->x + 3,
				      y + r->fh - 4.5);
			size_t chars = xml_text_chars(name);
			if (chars <= fit) {
				xml_escape(out, name, SIZE_MAX);
			} else {
				xml_escape(out, name, fit - 2);
				kb_buf_puts(out, "..");
			}
			kb_buf_puts(out, "</text>");
		}
		kb_buf_puts(out, "</g>\n");
	}
	kb_buf_puts(out, "</g>\n");
	put_script(out, r);
	kb_buf_puts(out, "</svg>\n");

	int oom = out->oom || st.tip.oom;
	kb_buf_free(&st.tip);
	order_free(&o);
	free(l.frames);
	if (oom)
		return kb_error_set(err, "flame graph: out of memory");
	return 0;
}

static void put_share(struct kb_buf *b, uint64_t part, uint64_t whole)
{
	kb_buf_printf(b, "%.2f%%", whole ? 100.0 * (double)part / (double)whole : 0.0);
}

static void plain_style(const struct fg_tree *t, uint32_t node, void *ctx, struct frame_style *st)
{
	const char *count_name = ctx;
	hot_colour(fg_node_name(t, node), st->fill);
	put_count(&st->tip, t->nodes[node].total);
	kb_buf_printf(&st->tip, " %s, ", count_name);
	put_share(&st->tip, t->nodes[node].total, t->nodes[0].total);
}

int fg_render_svg(const struct fg_tree *t, const struct fg_opts *opts, struct kb_buf *out,
		  struct kb_error *err)
{
	struct resolved r;
	if (resolve_opts(opts, "Flame Graph", &r, err))
		return -1;
	return render(t, &r, opts ? opts->subtitle : NULL, plain_style, (void *)r.count_name, out,
		      err);
}

/* ---- differential ---- */

struct diff_ctx {
	const struct fg_tree *base;
	uint32_t *base_of; /* node of `now` -> node of base, NO_NODE when new */
	double max_abs;
	const char *count_name;
};

static double share(const struct fg_tree *t, uint32_t node)
{
	return (double)t->nodes[node].total / (double)t->nodes[0].total;
}

static void diff_style(const struct fg_tree *t, uint32_t node, void *arg, struct frame_style *st)
{
	const struct diff_ctx *d = arg;
	uint32_t b = d->base_of[node];
	double now = share(t, node), before = b == NO_NODE ? 0 : share(d->base, b);
	diff_colour(now - before, d->max_abs, st->fill);
	put_count(&st->tip, t->nodes[node].total);
	kb_buf_printf(&st->tip, " %s, %.2f%%; base ", d->count_name, 100 * now);
	if (b == NO_NODE)
		kb_buf_puts(&st->tip, "none, new frame");
	else
		kb_buf_printf(&st->tip, "%.2f%%, %+.2f points", 100 * before, 100 * (now - before));
}

/* map[n] = the node of `to` at the same path as node n of `from`. Nodes
 * are created after their parents, so one pass in index order suffices. */
static uint32_t *map_nodes(const struct fg_tree *from, const struct fg_tree *to)
{
	uint32_t *map = malloc(from->n_nodes * sizeof *map);
	if (!map)
		return NULL;
	map[0] = 0;
	for (size_t i = 1; i < from->n_nodes; i++) {
		uint32_t p = map[from->nodes[i].parent];
		uint32_t c =
		    p == NO_NODE ? 0 : fg_tree_find_child(to, p, fg_node_name(from, (uint32_t)i));
		map[i] = c ? c : NO_NODE;
	}
	return map;
}

int fg_render_diff_svg(const struct fg_tree *base, const struct fg_tree *now,
		       const struct fg_opts *opts, struct kb_buf *out, struct kb_error *err)
{
	struct resolved r;
	if (resolve_opts(opts, "Differential Flame Graph", &r, err))
		return -1;
	if (base->nodes[0].total == 0)
		return kb_error_set(err,
				    "differential flame graph: the base profile has no samples");
	if (now->nodes[0].total == 0)
		return kb_error_set(err,
				    "differential flame graph: the new profile has no samples");
	struct diff_ctx d = {.base = base, .count_name = r.count_name};
	d.base_of = map_nodes(now, base);
	uint32_t *now_of = map_nodes(base, now);
	if (!d.base_of || !now_of) {
		free(d.base_of);
		free(now_of);
		return kb_error_set(err, "differential flame graph: out of memory");
	}
	for (size_t i = 0; i < now->n_nodes; i++) {
		uint32_t b = d.base_of[i];
		double delta = share(now, (uint32_t)i) - (b == NO_NODE ? 0 : share(base, b));
		if (fabs(delta) > d.max_abs)
			d.max_abs = fabs(delta);
	}
	size_t gone = 0;
	for (size_t i = 1; i < base->n_nodes; i++)
		gone += now_of[i] == NO_NODE;
	free(now_of);

	struct kb_buf sub = {0};
	if (opts && opts->subtitle)
		kb_buf_printf(&sub, "%s; ", opts->subtitle);
	kb_buf_puts(&sub, "red: larger share than base, blue: smaller; base ");
	put_count(&sub, base->nodes[0].total);
	kb_buf_puts(&sub, ", new ");
	put_count(&sub, now->nodes[0].total);
	kb_buf_printf(&sub, " %s", r.count_name);
	if (gone)
		kb_buf_printf(&sub, "; %zu base frame%s gone", gone, gone == 1 ? "" : "s");
	int rc = sub.oom ? kb_error_set(err, "differential flame graph: out of memory")
			 : render(now, &r, sub.data, diff_style, &d, out, err);
	kb_buf_free(&sub);
	free(d.base_of);
	return rc;
}
