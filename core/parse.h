/* parse: MeTTa text to terms (module prefix mt_parse_).
 *
 * A hand-written, table-driven lexer and a parser with an explicit stack
 * and depth limit (never C recursion, never a stack overflow) that streams
 * over its input: each top-level atom is handed to a callback as soon as it
 * is complete, so a 139 MB file is never held as a tree. Atoms are built
 * persistent (hash-consed) in the given store, with variables numbered per
 * top-level atom (see term.h). The accepted syntax (numbers, strings and
 * their escapes, the `!` mark) is written down in docs/core.md.
 *
 * Errors name the place and the cause, "FILE:LINE:COL: cause", e.g.
 * "kb.metta:3:1: unclosed '(' (opened at 1:5)". Lines and columns count
 * from 1; columns count bytes. */
#ifndef MT_PARSE_H
#define MT_PARSE_H

#include "core/term.h"

#define MT_PARSE_DEFAULT_MAX_DEPTH 10000

struct mt_parse_opts {
	const char *filename; /* for messages; "<input>" if NULL */
	uint32_t max_depth;   /* 0: MT_PARSE_DEFAULT_MAX_DEPTH */
	/* 0 or 1: one thread. 2 (any value from 2 up but AUTO): the lexer (scanning, symbol
	 * interning, variable numbering, syntax errors) runs on a second thread, ahead of the
	 * calling thread, which builds the terms and calls fn. The result is the same: terms,
	 * symbol ids, store contents, errors. The symbol table belongs to the lexer until the parse
	 * returns, so fn must not intern, look up or name symbols (no mt_sym_* call, nothing that
	 * makes one, such as evaluation or printing); adding atoms to a space is fine. For the
	 * parse, the calling thread and the lexer are pinned to two different CPUs of the caller's
	 * allowed set (so that they never take turns on one), and the caller's affinity is put back
	 * when the parse returns. Below about a megabyte, starting the thread costs about what it
	 * saves (docs/core.md). MT_PARSE_THREADS_AUTO: two for an input of MT_PARSE_THREADS_MIN
	 * bytes or more when the calling thread may run on two CPUs, else one. One thread all the
	 * same for a store on an image's symbols, or if a thread cannot be started. */
	unsigned threads;
};

#define MT_PARSE_THREADS_AUTO 0xffffffffu
#define MT_PARSE_THREADS_MIN ((size_t)1 << 20)

/* The thread count MT_PARSE_THREADS_AUTO picks for an input of len bytes. */
unsigned mt_parse_threads_for(size_t len);

/* Where an atom started in the input. */
struct mt_srcpos {
	uint32_t line, col;
	size_t offset;
};

/* Called once per top-level atom. `bang` is 1 for `!expr`. `names` is valid
 * during the call only. Return 0 to go on, non-zero to stop parsing (that
 * value is returned by the parse call, and err is left untouched). */
typedef int (*mt_atom_fn)(void *ctx, mt_term atom, int bang, const struct mt_varnames *names,
			  struct mt_srcpos where);

/* Parses `len` bytes. Returns 0, the callback's non-zero value, or -1 with
 * err set on a syntax error or memory exhaustion. */
int mt_parse_buffer(struct mt_store *store, const char *text, size_t len,
		    const struct mt_parse_opts *opts, mt_atom_fn fn, void *ctx,
		    struct kb_error *err);

/* Parses a file ("-" is standard input). Same returns as mt_parse_buffer;
 * I/O errors name the file and the cause. */
int mt_parse_file(struct mt_store *store, const char *path, const struct mt_parse_opts *opts,
		  mt_atom_fn fn, void *ctx, struct kb_error *err);

/* Parses exactly one atom from a string (for queries given on a command
 * line); variables are numbered as in a top-level atom. Returns 0 and sets
 * *atom, or -1 with err set (empty input and trailing text are errors). */
int mt_parse_one(struct mt_store *store, const char *text, size_t len, mt_term *atom,
		 struct kb_error *err);

#endif
