/* symbolize: addresses of a recorded process to function, inline chain and
 * source file:line, through elfutils libdwfl (module prefix sym_).
 *
 * A session (struct sym_session) owns everything: interned strings, the
 * table of functions, the warnings, and one address space per process
 * image (struct sym_space: a Dwfl with that image's modules and a cache of
 * looked-up addresses). Build a space from the recording's module map
 * (sym_space_add_module for each executable mapping), then look addresses
 * up. Every pointer the module returns stays valid until sym_session_free().
 *
 * Modules are reported to libdwfl at their recorded place: the load bias
 * (runtime address minus file virtual address) is computed from the
 * mapping (start, file offset) and the file's PT_LOAD program headers, so
 * position-independent executables and shared libraries land where they
 * ran. A recorded build-id is checked against the file's: a mismatch (the
 * binary was rebuilt) or a missing file (moved or deleted) is a warning,
 * and that module's addresses are shown as module+offset, never with
 * symbols from the wrong file.
 *
 * Each address degrades as far as it must:
 *   SYM_LEVEL_LINE      function (ELF symbol, else DWARF) and source file:line
 *   SYM_LEVEL_FUNCTION  function from .symtab/.dynsym, offset, no line
 *   SYM_LEVEL_MODULE    inside a known module only: module+offset
 *   SYM_LEVEL_NONE      outside every recorded module
 * Return addresses (callers in a call chain) are looked up at address - 1,
 * so a call that is the last instruction of a function is attributed to
 * that function and its line; the leaf IP is looked up as is.
 * Results are cached per space by looked-up address, so the libdwfl cost
 * follows the number of distinct addresses, not of samples. */
#ifndef KB_ANALYZE_SYMBOLIZE_H
#define KB_ANALYZE_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

#include "util/kb_error.h"

enum sym_level {
	SYM_LEVEL_NONE,
	SYM_LEVEL_MODULE,
	SYM_LEVEL_FUNCTION,
	SYM_LEVEL_LINE,
};

enum sym_module_state {
	SYM_MODULE_OK,       /* symbols used; build-id matched or not recorded */
	SYM_MODULE_MISSING,  /* file absent or unreadable at the recorded path */
	SYM_MODULE_MISMATCH, /* build-id differs from the recorded one */
	SYM_MODULE_UNUSABLE, /* not an ELF file, or its headers do not fit the mapping */
	SYM_MODULE_NOFILE,   /* no file behind it: [vdso], anonymous (JIT) code */
};

/* One module (file) of one address space. */
struct sym_module {
	const char *path; /* as recorded */
	const char *name; /* basename of path */
	uint64_t bias;    /* runtime address - file virtual address */
	enum sym_module_state state;
	int build_id_checked; /* a build-id was recorded and matched */
};

/* A function: the unit hotspots aggregate on. Same module file and same
 * start give the same function, in every space of the session. */
struct sym_function {
	uint32_t id;           /* index in the session's table */
	const char *name;      /* "main", or "[libc.so.6]" for a module without symbols,
				  "[unknown]" outside modules, "[kernel]" for kernel addresses */
	const char *module;    /* module path, or NULL */
	uint64_t start;        /* file virtual address of its first byte; UINT64_MAX for
				  the per-module buckets */
	const char *decl_file; /* from DWARF, or NULL */
	unsigned decl_line;
};

/* One level of an inline chain. frames[0] is the innermost function, with
 * the address's own source line; frames[i + 1] is the function frames[i]
 * was inlined into, with the line of that inlined call. The last frame is
 * the real (out-of-line) function. */
struct sym_frame {
	const char *function; /* DWARF name, or NULL */
	const char *file;     /* NULL when unknown */
	unsigned line;
};

struct sym_info {
	uint64_t addr;                       /* the address looked up (already adjusted) */
	const struct sym_module *module;     /* NULL for SYM_LEVEL_NONE */
	uint64_t offset;                     /* addr - module bias: file virtual address */
	const struct sym_function *function; /* never NULL (buckets as above) */
	uint64_t function_offset;            /* addr - start of the function's symbol */
	const char *file;                    /* innermost source file, or NULL */
	unsigned line;
	unsigned column;   /* 0 when the line table has none */
	unsigned n_frames; /* 0 without DWARF scopes */
	const struct sym_frame *frames;
	enum sym_level level;
};

struct sym_session;
struct sym_space;

struct sym_session *sym_session_new(struct kb_error *err);
void sym_session_free(struct sym_session *s);

/* A new, empty address space owned by the session. label names it in
 * warnings (e.g. "pid 1234"). NULL when out of memory. */
struct sym_space *sym_space_new(struct sym_session *s, const char *label);

/* An executable mapping as recorded: [start, end) maps `path` from file
 * offset pgoff. What the recording knew about the file lets a rebuilt one
 * be recognised: its build-id (build_id_len 0: none recorded) and, checked
 * when no build-id settles it, its size and modification time (0: not
 * recorded). A path that is not absolute ("[vdso]", "//anon") has no file. */
struct sym_module_desc {
	const char *path;
	uint64_t start, end, pgoff;
	const unsigned char *build_id;
	size_t build_id_len;
	uint64_t size, mtime_ns;
};

/* Problems with the file are warnings (sym_session_warnings), not errors:
 * the mapping still names its module. Returns -1 only when out of memory
 * or when the mapping itself is malformed (end <= start). */
int sym_space_add_module(struct sym_space *sp, const struct sym_module_desc *d,
			 struct kb_error *err);

/* Looks one address up. is_return_address: a caller's frame in a call
 * chain (looked up at addr - 1). Never NULL except when out of memory. */
const struct sym_info *sym_lookup(struct sym_space *sp, uint64_t addr, int is_return_address);

/* Resolve kernel addresses through a kallsyms file (normally
 * /proc/kallsyms), read at the first kernel address looked up. Only valid
 * when the recording was made under the running kernel in this boot (KASLR
 * moves the kernel at every boot): the caller checks. Kernel functions are
 * SYM_LEVEL_FUNCTION with module "[kernel]" (or "[module]" for a loadable
 * module); without this they all fall in one "[kernel]" bucket. */
void sym_session_kernel_symbols(struct sym_session *s, const char *kallsyms_path);
/* Distinct kernel addresses looked up so far. */
size_t sym_session_kernel_addresses(const struct sym_session *s);

/* The function table: ids are dense, 0 .. count - 1. */
size_t sym_function_count(const struct sym_session *s);
const struct sym_function *sym_function_get(const struct sym_session *s, uint32_t id);

/* Warnings gathered so far, one per line ("" when none); each module
 * problem is reported once per path. */
const char *sym_session_warnings(const struct sym_session *s);
size_t sym_session_warning_count(const struct sym_session *s);

/* Distinct addresses looked up, by level (cost and coverage diagnostics). */
void sym_session_address_counts(const struct sym_session *s, size_t counts[4]);

/* Formats an address description: "func+0x1f (file.c:12)", "func+0x1f",
 * "module+0x1234" or "0x7ffd1234". Returns buf. */
char *sym_describe(const struct sym_info *info, char *buf, size_t size);

#endif
