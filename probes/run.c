/* run: the measured command's process: fork, hold, exec, signals, wait.
 * Owns the child's pipes and the signal dispositions it replaces, restored
 * by kbrun_finish(). See run.h. */
#include "probes/run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define NFORWARDED (sizeof forwarded / sizeof forwarded[0])

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t interrupted;
static int wake_write = -1;
static struct sigaction saved[NFORWARDED], saved_chld;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int saved_errno = errno;
	if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
		interrupted = 1;
	/* From a process (kill, timeout): pass it on. From the terminal
	 * (SI_KERNEL): the child got its own copy already. */
	if (sig != SIGCHLD && child_pid > 0 && si && si->si_code <= 0 &&
	    si->si_pid != (pid_t)child_pid)
		kill((pid_t)child_pid, sig);
	if (wake_write >= 0) {
		char c = 0;
		ssize_t w = write(wake_write, &c, 1);
		(void)w;
	}
	errno = saved_errno;
}

bool kbrun_interrupted(void)
{
	return interrupted != 0;
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: poll() and waits return EINTR */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &sa, &saved[i]);
	sa.sa_flags |= SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, &saved_chld);
}

static void restore(void)
{
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &saved[i], NULL);
	sigaction(SIGCHLD, &saved_chld, NULL);
}

int kbrun_start(struct kbrun *r, char *const argv[], char *const env[], struct kb_error *err)
{
	memset(r, 0, sizeof *r);
	r->go_fd = r->err_fd = r->wake_fd = -1;
	int go[2], ex[2], wake[2];
	if (pipe2(go, O_CLOEXEC))
		return kb_error_set(err, "pipe: %s", strerror(errno));
	if (pipe2(ex, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return kb_error_set(err, "pipe: %s", strerror(errno));
	}
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK)) {
		close(go[0]);
		close(go[1]);
		close(ex[0]);
		close(ex[1]);
		return kb_error_set(err, "pipe: %s", strerror(errno));
	}
	interrupted = 0;
	wake_write = wake[1];
	install();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		restore();
		close(go[0]);
		close(go[1]);
		close(ex[0]);
		close(ex[1]);
		close(wake[0]);
		close(wake[1]);
		wake_write = -1;
		return kb_error_set(err, "fork: %s", strerror(e));
	}
	if (pid == 0) {
		/* The child: default signals, wait for the go, exec. */
		for (size_t i = 0; i < NFORWARDED; i++)
			sigaction(forwarded[i], &saved[i], NULL);
		sigaction(SIGCHLD, &saved_chld, NULL);
		close(go[1]);
		close(ex[0]);
		char c;
		ssize_t got;
		while ((got = read(go[0], &c, 1)) < 0 && errno == EINTR)
			;
		if (got != 1)
			_exit(127); /* kbprof gave up before the go */
		for (size_t i = 0; env && env[i]; i++)
			putenv(env[i]);
		execvp(argv[0], argv);
		int e = errno;
		ssize_t w = write(ex[1], &e, sizeof e);
		(void)w;
		_exit(127);
	}
	close(go[0]);
	close(ex[1]);
	r->pid = pid;
	r->go_fd = go[1];
	r->err_fd = ex[0];
	r->wake_fd = wake[0];
	child_pid = pid;
	return 0;
}

static void reap(struct kbrun *r, int options)
{
	if (r->exited)
		return;
	int st;
	struct rusage ru;
	pid_t got;
	while ((got = wait4(r->pid, &st, options, &ru)) < 0 && errno == EINTR)
		;
	if (got == r->pid) {
		r->exited = true;
		r->wait_status = st;
		r->rusage = ru;
		child_pid = 0;
	}
}

int kbrun_go(struct kbrun *r, char *const argv[], struct kb_error *err)
{
	char c = 1;
	ssize_t w;
	while ((w = write(r->go_fd, &c, 1)) < 0 && errno == EINTR)
		;
	close(r->go_fd);
	r->go_fd = -1;
	int e = 0;
	ssize_t got;
	while ((got = read(r->err_fd, &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(r->err_fd);
	r->err_fd = -1;
	if (got == (ssize_t)sizeof e) {
		reap(r, 0);
		if (e == ENOENT)
			return kb_error_set(err, "%s: command not found", argv[0]);
		return kb_error_set(err, "%s: %s", argv[0], strerror(e));
	}
	return 0;
}

void kbrun_wait(struct kbrun *r)
{
	reap(r, 0);
}

bool kbrun_poll(struct kbrun *r)
{
	reap(r, WNOHANG);
	return r->exited;
}

void kbrun_abort(struct kbrun *r)
{
	if (r->pid > 0 && !r->exited) {
		kill(r->pid, SIGKILL);
		reap(r, 0);
	}
	kbrun_finish(r);
}

void kbrun_finish(struct kbrun *r)
{
	child_pid = 0;
	restore();
	if (wake_write >= 0)
		close(wake_write);
	wake_write = -1;
	if (r->go_fd >= 0)
		close(r->go_fd);
	if (r->err_fd >= 0)
		close(r->err_fd);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	r->go_fd = r->err_fd = r->wake_fd = -1;
}

int kbrun_exit_code(const struct kbrun *r)
{
	if (!r->exited)
		return 1;
	if (WIFEXITED(r->wait_status))
		return WEXITSTATUS(r->wait_status);
	if (WIFSIGNALED(r->wait_status))
		return 128 + WTERMSIG(r->wait_status);
	return 1;
}
