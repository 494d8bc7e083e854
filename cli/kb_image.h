/* The image subcommands of `kbprof kb` (cli/cmd_kb_image.c), wired into
 * cmd_kb.c's table: compile with -o, query, info, verify. Each takes the
 * sub-subcommand's argv (argv[0] is its name). */
#ifndef KBPROF_KB_IMAGE_H
#define KBPROF_KB_IMAGE_H

/* 1 if argv asks `kb compile` for an image (-o/--output, --zstd). */
int kb_compile_wants_image(int argc, char **argv);

int kb_image_compile(int argc, char **argv);
int kb_query(int argc, char **argv);
int kb_info(int argc, char **argv);
int kb_verify(int argc, char **argv);

#endif
