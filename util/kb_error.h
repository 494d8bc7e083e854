/* kb_error: the error slot every fallible kbprof function fills.
 *
 * Convention (after libgit2): a function that can fail returns an int
 * status (0 on success, -1 on failure) and, on failure, writes one message
 * into the caller's `struct kb_error`. The message carries the place and
 * the cause ("kb.metta:3:7: unclosed '(' (opened at 1:1)"). The caller reads
 * it once; nothing else is allocated, so there is nothing to free.
 * Passing a NULL slot is allowed: the message is then dropped. */
#ifndef KB_ERROR_H
#define KB_ERROR_H

#include <stdarg.h>
#include <stdio.h>

struct kb_error {
	char msg[1024];
};

__attribute__((format(printf, 2, 3))) static inline int kb_error_set(struct kb_error *err,
								     const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Prefix an existing message with more context ("while loading X: ..."). */
__attribute__((format(printf, 2, 3))) static inline int kb_error_wrap(struct kb_error *err,
								      const char *fmt, ...)
{
	if (err) {
		char prefix[512], old[sizeof err->msg];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(prefix, sizeof prefix, fmt, ap);
		va_end(ap);
		snprintf(old, sizeof old, "%s", err->msg);
		snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
	}
	return -1;
}

#endif
