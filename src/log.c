/*
 * log: leveled log lines on stderr.
 *
 * Each line is written with one write(2) so lines from several processes
 * sharing a pipe do not interleave.  Nothing here ever formats an API key or
 * a message body: callers pass only ids, sizes, statuses and reasons.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level	log_level = LOG_LEVEL_INFO;
static char		log_tag[16];	/* e.g. "w1": which worker */

static const char	*log_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

/* Set the most verbose level that is written. */
void
log_set_level(enum log_level level)
{
	log_level = level;
}

/* Tag every following line (a worker's name), or clear it with "". */
void
log_set_tag(const char *tag)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag);
}

/* Return the current level. */
enum log_level
log_get_level(void)
{
	return (log_level);
}

/* True if lines at this level are written. */
int
log_enabled(enum log_level level)
{
	return (level <= log_level);
}

/* Parse a level name; returns 0 on success, -1 for an unknown name. */
int
log_level_parse(const char *name, enum log_level *out)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(name, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return (0);
		}
	}
	return (-1);
}

/* Name of a level. */
const char *
log_level_name(enum log_level level)
{
	return (log_names[level]);
}

static void	log_vwrite(enum log_level, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

/* Format and write one line: UTC timestamp, level, message. */
static void
log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	char		 line[4096];
	struct timeval	 tv;
	struct tm	 tm;
	int		 n, m;
	ssize_t		 unused;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s %s%s",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000), log_names[level],
	    log_tag, log_tag[0] != '\0' ? " " : "");
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	if ((size_t)(n + m) > sizeof(line) - 2)
		m = (int)(sizeof(line) - 2) - n;
	n += m;
	line[n++] = '\n';
	unused = write(STDERR_FILENO, line, (size_t)n);
	(void)unused;
}

/* Log an error. */
void
log_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
}

/* Log a warning, if enabled. */
void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	if (!log_enabled(LOG_LEVEL_WARN))
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_WARN, fmt, ap);
	va_end(ap);
}

/* Log an informational line, if enabled. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_INFO, fmt, ap);
	va_end(ap);
}

/* Log a debug line, if enabled. */
void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_DEBUG, fmt, ap);
	va_end(ap);
}

/* Log an error and exit: only for start-up failures and broken invariants. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
