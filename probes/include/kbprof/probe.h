/* kbprof region probes: the public header any C program can include.
 *
 * KBPROF_REGION_BEGIN("parse") ... KBPROF_REGION_END("parse") marks a
 * named region. Until probes/ supplies an implementation (the probes issue),
 * and whenever KBPROF_PROBES_DISABLED is defined, the macros compile to
 * nothing, so instrumented code costs nothing. */
#ifndef KBPROF_PROBE_H
#define KBPROF_PROBE_H

#define KBPROF_REGION_BEGIN(name) ((void)0)
#define KBPROF_REGION_END(name) ((void)0)

#endif
