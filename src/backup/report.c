/* backup/report.c — the run report, as plain text and as HTML (the two parts of the mail), and
 * the size / time formats the backup commands print. */
#include "backup/backup.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"

void backup_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)n;
	int i = 0;
	while (v >= 1024 && i < 6) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, u[i]);
}

void backup_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "%lld", (long long)t);
}

static const char *status_word(int st) { return st == BACKUP_VM_OK ? "ok" : st == BACKUP_VM_SKIPPED ? "skipped" : "FAILED"; }

static void speed(const backup_vm_result_t *v, char *buf, size_t len)
{
	double s = v->ns / 1e9;
	if (s <= 0 || !v->sent)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f MB/s", v->sent / s / 1e6);
}

static void html_esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void list_line(FILE *f, char **l, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(f, "%s@%s", i ? ", " : "", l[i]);
	if (!n)
		fputs("none", f);
}

int backup_report(const backup_run_t *r, char **text, char **html, char *subj, size_t subjlen)
{
	int ok = 0, bad = 0;
	for (int i = 0; i < r->nvms; i++)
		r->vms[i].status == BACKUP_VM_OK ? ok++ : bad++;
	const char *overall = backup_run_ok(r) ? "OK" : ok ? "PARTIAL FAILURE" : "FAILED";
	if (r->error)
		snprintf(subj, subjlen, "[tarn backup] %s on %s: FAILED (%s)", r->job, r->host, r->error);
	else
		snprintf(subj, subjlen, "[tarn backup] %s on %s: %s (%d of %d VMs backed up)", r->job, r->host, overall, ok,
			 r->nvms);
	for (char *p = subj; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	char st[40], en[40];
	backup_time(r->start, st, sizeof(st));
	backup_time(r->end, en, sizeof(en));

	size_t tl = 0, hl = 0;
	*text = *html = NULL;
	FILE *t = open_memstream(text, &tl), *h = open_memstream(html, &hl);
	if (!t || !h) {
		if (t)
			fclose(t);
		if (h)
			fclose(h);
		free(*text);
		free(*html);
		*text = *html = NULL;
		return terr(ENOMEM, "out of memory");
	}
	/* ---- text ---- */
	fprintf(t, "tarn backup report\n\nJob:         %s\nHost:        %s\nDestination: %s\nStarted:     %s\nEnded:       "
		   "%s (%lld s)\nStatus:      %s: %d of %d VMs backed up%s\n",
		r->job, r->host, r->dest, st, en, (long long)(r->end - r->start), overall, ok, r->nvms,
		bad ? "" : "");
	if (r->error)
		fprintf(t, "Error:       %s\n", r->error);
	fprintf(t, "\n%-16s %-8s %11s %11s %9s %12s  %s\n", "VM", "STATUS", "SIZE", "SENT", "DURATION", "SPEED",
		"SNAPSHOT");
	for (int i = 0; i < r->nvms; i++) {
		const backup_vm_result_t *v = &r->vms[i];
		char sz[32], se[32], sp[32];
		backup_bytes(v->size, sz, sizeof(sz));
		backup_bytes(v->sent, se, sizeof(se));
		speed(v, sp, sizeof(sp));
		fprintf(t, "%-16s %-8s %11s %11s %8.1fs %12s  %s\n", v->vm, status_word(v->status), sz, se, v->ns / 1e9, sp,
			v->snapshot ? v->snapshot : "-");
	}
	for (int i = 0; i < r->nvms; i++) {
		const backup_vm_result_t *v = &r->vms[i];
		fprintf(t, "\n%s: %s", v->vm, status_word(v->status));
		if (v->nvols)
			fprintf(t, ", %d volume(s)", v->nvols);
		if (v->snapshot)
			fprintf(t, ", %s @%s", v->base ? "incremental from" : "full", v->base ? v->base : v->snapshot);
		if (v->base && v->snapshot)
			fprintf(t, " to @%s", v->snapshot);
		fputc('\n', t);
		if (v->room_checked) {
			char n[32], a[32];
			backup_bytes(v->needed, n, sizeof(n));
			backup_bytes(v->available, a, sizeof(a));
			fprintf(t, "  Needed room: %s / Available room: %s\n", n, a);
		}
		fputs("  Pruned on the source: ", t);
		list_line(t, v->pruned_src, v->npruned_src);
		fputs("\n  Pruned on the destination: ", t);
		list_line(t, v->pruned_dest, v->npruned_dest);
		fputc('\n', t);
		if (v->error)
			fprintf(t, "  Error in step %s: %s\n", v->step, v->error);
		if (v->warning)
			fprintf(t, "  Warning: %s\n", v->warning);
	}
	fclose(t);

	/* ---- HTML ---- */
	const char *color = backup_run_ok(r) ? "#1a7f37" : "#cf222e";
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>", h);
	html_esc(h, subj);
	fputs("</title></head>\n<body style=\"font-family: sans-serif\">\n<h2>tarn backup report: ", h);
	html_esc(h, r->job);
	fprintf(h, "</h2>\n<p style=\"color: %s; font-weight: bold\">%s: %d of %d VMs backed up</p>\n", color, overall, ok,
		r->nvms);
	fputs("<table>\n<tr><td>Job</td><td>", h);
	html_esc(h, r->job);
	fputs("</td></tr>\n<tr><td>Host</td><td>", h);
	html_esc(h, r->host);
	fputs("</td></tr>\n<tr><td>Destination</td><td>", h);
	html_esc(h, r->dest);
	fprintf(h, "</td></tr>\n<tr><td>Started</td><td>%s</td></tr>\n<tr><td>Ended</td><td>%s (%lld s)</td></tr>\n", st,
		en, (long long)(r->end - r->start));
	if (r->error) {
		fputs("<tr><td>Error</td><td>", h);
		html_esc(h, r->error);
		fputs("</td></tr>\n", h);
	}
	fputs("</table>\n<h3>Virtual machines</h3>\n<table border=\"1\" cellpadding=\"4\" style=\"border-collapse: "
	      "collapse\">\n<tr><th>VM</th><th>Status</th><th>Size</th><th>Sent</th><th>Duration</th><th>Speed</th>"
	      "<th>Snapshot</th><th>Base</th><th>Room</th><th>Pruned</th><th>Error</th></tr>\n",
	      h);
	for (int i = 0; i < r->nvms; i++) {
		const backup_vm_result_t *v = &r->vms[i];
		char sz[32], se[32], sp[32];
		backup_bytes(v->size, sz, sizeof(sz));
		backup_bytes(v->sent, se, sizeof(se));
		speed(v, sp, sizeof(sp));
		fputs("<tr class=\"vm\"><td>", h);
		html_esc(h, v->vm);
		fprintf(h, "</td><td style=\"color: %s\">%s</td><td>%s</td><td>%s</td><td>%.1f s</td><td>%s</td><td>",
			v->status == BACKUP_VM_OK ? "#1a7f37" : "#cf222e", status_word(v->status), sz, se, v->ns / 1e9, sp);
		html_esc(h, v->snapshot ? v->snapshot : "-");
		fputs("</td><td>", h);
		html_esc(h, v->base ? v->base : "full");
		fputs("</td><td>", h);
		if (v->room_checked) {
			char n[32], a[32];
			backup_bytes(v->needed, n, sizeof(n));
			backup_bytes(v->available, a, sizeof(a));
			fprintf(h, "Needed room: %s / Available room: %s", n, a);
		} else
			fputs("-", h);
		fprintf(h, "</td><td>source: %d, destination: %d", v->npruned_src, v->npruned_dest);
		for (int k = 0; k < v->npruned_src; k++) {
			fputs(k ? ", " : "<br>source: ", h);
			html_esc(h, v->pruned_src[k]);
		}
		for (int k = 0; k < v->npruned_dest; k++) {
			fputs(k ? ", " : "<br>destination: ", h);
			html_esc(h, v->pruned_dest[k]);
		}
		fputs("</td><td>", h);
		if (v->error) {
			fputs("step ", h);
			html_esc(h, v->step);
			fputs(": ", h);
			html_esc(h, v->error);
		}
		if (v->warning) {
			fputs(v->error ? "<br>warning: " : "warning: ", h);
			html_esc(h, v->warning);
		}
		if (!v->error && !v->warning)
			fputs("-", h);
		fputs("</td></tr>\n", h);
	}
	fputs("</table>\n</body></html>\n", h);
	fclose(h);
	if (!*text || !*html) {
		free(*text);
		free(*html);
		*text = *html = NULL;
		return terr(ENOMEM, "out of memory");
	}
	return 0;
}
