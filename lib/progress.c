/*
 * progress.c - one line on a terminal saying how far a long job has got:
 * bytes done of the total, the rate, the time left.  It is redrawn in
 * place with a carriage return at most four times a second, so a job
 * moving a gigabyte a second spends nothing noticeable on it, and it is
 * wiped at the end so that what follows starts on a clean line.
 */
#include <sys/ioctl.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "t2m.h"

#define INTERVAL_NS 250000000L

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 4.0 GiB, 512 B: binary units, as t2m's sizes are everywhere. */
static void
human(char *s, size_t n, double v)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(s, n, "%.0f B", v);
	else
		snprintf(s, n, "%.1f %s", v, unit[u]);
}

static void
duration(char *s, size_t n, double secs)
{
	unsigned long t;

	if (secs > 359999)
		secs = 359999;			/* 99:59:59 */
	t = (unsigned long)(secs + 0.5);
	if (t >= 3600)
		snprintf(s, n, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60,
		    t % 60);
	else
		snprintf(s, n, "%lu:%02lu", t / 60, t % 60);
}

static int
columns(int fd)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col;
	return 80;
}

static void
draw(struct t2m_progress *p, double t)
{
	char line[512], done[32], total[32], rate[32], left[32];
	double secs = t - p->start;
	size_t n, old = p->shown;
	pid_t fg;
	int pct;

	/* A job in the background keeps quiet rather than scribble over
	 * the foreground's terminal. */
	if ((fg = tcgetpgrp(p->fd)) >= 0 && fg != getpgrp())
		return;
	human(done, sizeof done, (double)p->done);
	human(total, sizeof total, (double)p->total);
	pct = p->total ? (int)((double)p->done * 100 / (double)p->total) : 100;
	if (secs > 0.05 && p->done > 0) {
		human(rate, sizeof rate, (double)p->done / secs);
		strcat(rate, "/s");
		duration(left, sizeof left, (double)(p->total - p->done) /
		    ((double)p->done / secs));
	} else {
		strcpy(rate, "--/s");
		strcpy(left, "--:--");
	}
	snprintf(line + 1, sizeof line - 1, "%s: %s of %s (%d%%), %s, %s left",
	    p->label, done, total, pct, rate, left);
	line[0] = '\r';
	n = strlen(line);
	/* Never wrap: a wrapped line cannot be redrawn with \r. */
	if (n > (size_t)columns(p->fd))
		n = (size_t)columns(p->fd);
	p->shown = n - 1;
	/* Cover what a longer line before left on the screen. */
	while (n < old + 1 && n < sizeof line)
		line[n++] = ' ';
	(void)!write(p->fd, line, n);
	p->last = t;
}

void
t2m_progress_begin(struct t2m_progress *p, int fd, uint64_t total,
    const char *label)
{
	memset(p, 0, sizeof *p);
	p->fd = fd;
	p->total = total;
	p->label = label;
	if (!isatty(fd))
		return;
	p->on = 1;
	p->start = now();
	draw(p, p->start);
}

void
t2m_progress_add(struct t2m_progress *p, uint64_t n)
{
	double t;

	p->done += n;
	if (!p->on)
		return;
	/* The last byte is shown too, however soon after the last draw. */
	if ((t = now()) - p->last >= INTERVAL_NS / 1e9 ||
	    (p->done == p->total && n > 0))
		draw(p, t);
}

void
t2m_progress_end(struct t2m_progress *p)
{
	char blank[512];
	size_t n;

	if (!p->on)
		return;
	p->on = 0;
	if (p->shown == 0)
		return;
	n = p->shown + 2 < sizeof blank ? p->shown + 2 : sizeof blank;
	memset(blank, ' ', n);
	blank[0] = '\r';
	blank[n - 1] = '\r';
	(void)!write(p->fd, blank, n);
}
