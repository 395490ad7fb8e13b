/*
 * proc: CPU time and resident memory of a set of processes, and of the
 * whole machine, from /proc.
 *
 * CPU time is utime + stime of /proc/PID/stat (all threads, in clock
 * ticks of 1/CLK_TCK s); memory is the resident set of /proc/PID/statm.
 * A set is summed: a proxy with worker processes, say.
 */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* Fill s from "PID[,PID...]"; exit on anything else. */
void
proc_parse(struct proc_set *s, const char *list)
{
	const char	*p = list;
	char		*end;
	long		 pid;

	s->n = 0;
	while (*p != '\0') {
		pid = strtol(p, &end, 10);
		if (end == p || pid <= 0 || (*end != ',' && *end != '\0'))
			util_die("bad pid list \"%s\"", list);
		if (s->n == PROC_MAX)
			util_die("more than %d pids", PROC_MAX);
		s->pids[s->n++] = (int)pid;
		p = *end == ',' ? end + 1 : end;
	}
}

/* The microseconds in one clock tick. */
static long long
proc_tick_us(void)
{
	long	hz = sysconf(_SC_CLK_TCK);

	return (1000000LL / (hz > 0 ? hz : 100));
}

/* utime + stime of one process in ticks, or -1 if it cannot be read. */
static long long
proc_ticks(int pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	FILE		*f;
	size_t		 n;
	int		 i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past it. */
	if ((p = strrchr(buf, ')')) == NULL)
		return (-1);
	p++;
	/* Fields 3 (state) to 13, then utime (14) and stime (15). */
	for (i = 3; i <= 13; i++) {
		p = strchr(p + 1, ' ');
		if (p == NULL)
			return (-1);
	}
	if (sscanf(p, " %lu %lu", &ut, &st) != 2)
		return (-1);
	return ((long long)(ut + st));
}

/* CPU time of the set in microseconds; -1 if no process could be read. */
long long
proc_cpu_us(const struct proc_set *s)
{
	long long	total = 0, t;
	int		i, seen = 0;

	for (i = 0; i < s->n; i++)
		if ((t = proc_ticks(s->pids[i])) >= 0) {
			total += t;
			seen++;
		}
	return (seen > 0 ? total * proc_tick_us() : -1);
}

/* Resident memory of the set in KiB; -1 if no process could be read. */
long long
proc_rss_kib(const struct proc_set *s)
{
	char		 path[64];
	unsigned long	 size, resident;
	long long	 total = 0;
	long		 page = sysconf(_SC_PAGESIZE);
	FILE		*f;
	int		 i, seen = 0, ok;

	for (i = 0; i < s->n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/statm", s->pids[i]);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		ok = fscanf(f, "%lu %lu", &size, &resident) == 2;
		fclose(f);
		if (!ok)
			continue;
		total += (long long)resident * (page > 0 ? page : 4096) / 1024;
		seen++;
	}
	return (seen > 0 ? total : -1);
}

/* The machine's busy and total CPU time so far (all CPUs), in us. */
int
proc_machine(long long *busy, long long *total)
{
	unsigned long long	 v[8] = { 0 };
	FILE			*f;
	int			 n;

	if ((f = fopen("/proc/stat", "r")) == NULL)
		return (-1);
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return (-1);
	/* user nice system idle iowait irq softirq steal */
	*total = (long long)(v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] +
	    v[7]) * proc_tick_us();
	*busy = *total - (long long)(v[3] + v[4]) * proc_tick_us();
	return (0);
}

/* This process's own CPU time in microseconds. */
long long
proc_self_cpu_us(void)
{
	struct rusage	ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return (0);
	return ((long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	    1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}
