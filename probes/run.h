/* run: starts the command kbprof measures, held before exec until its
 * events are attached; forwards signals to it; waits for it.
 *
 * The child is forked at once and blocks on a pipe; the caller opens its
 * perf events on the child's pid (with enable_on_exec, so kbprof's own code
 * in the child is not counted), then calls kbrun_go(), which lets the child
 * exec and reports whether exec worked ("nosuchcmd: command not found").
 *
 * Signals: while a run is active, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1
 * and SIGUSR2 sent to kbprof by another process (kill(1), timeout(1)) are
 * forwarded to the child. The same signals from the terminal reach the
 * child by themselves (it is in the same foreground process group) and are
 * not sent twice. Either way kbprof keeps running until the child has
 * ended, so it can finish its report or recording; kbrun_interrupted()
 * says whether it was asked to stop. */
#ifndef KBPROF_PROBES_RUN_H
#define KBPROF_PROBES_RUN_H

#include "util/kb_error.h"

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

struct kbrun {
	pid_t pid;
	int go_fd;   /* write end: a byte lets the child exec */
	int err_fd;  /* read end: the child's exec errno, or EOF after exec */
	int wake_fd; /* read end of a self-pipe written on SIGCHLD and forwarded signals */
	bool exited;
	int wait_status; /* as waitpid() gave it */
	struct rusage rusage;
};

/* Forks the child for argv (looked up in PATH) with `env` (NAME=VALUE
 * strings, NULL-terminated, may be NULL) added to its environment, and
 * installs the signal forwarding. `who` names the command in messages
 * ("stat"). */
int kbrun_start(struct kbrun *r, char *const argv[], char *const env[], struct kb_error *err);

/* Lets the child exec. -1 if exec failed: "CMD: command not found",
 * "CMD: Permission denied"; the child has then been reaped. */
int kbrun_go(struct kbrun *r, char *const argv[], struct kb_error *err);

/* Waits (blocking) for the child to end; fills wait_status and rusage. */
void kbrun_wait(struct kbrun *r);

/* Non-blocking: true once the child has ended (and then reaped). */
bool kbrun_poll(struct kbrun *r);

/* Kills a child that never got to exec, reaps it, restores signals. */
void kbrun_abort(struct kbrun *r);

/* Restores the signal dispositions and closes the pipes. */
void kbrun_finish(struct kbrun *r);

/* The exit status kbprof should return for the child: its exit code, or
 * 128 + the signal that killed it. */
int kbrun_exit_code(const struct kbrun *r);

/* True if kbprof was sent SIGINT, SIGTERM or SIGHUP during the run. */
bool kbrun_interrupted(void);

#endif
