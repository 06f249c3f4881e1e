/* backup/mail.c — mailing the run report with libcurl's SMTP: a multipart/alternative message
 * (plain text + HTML), TLS none / STARTTLS / SMTPS, AUTH none / PLAIN / LOGIN, the password from
 * a file or $TARN_SMTP_PASSWORD (never the command line). */
#include "backup/backup.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

/* The first line of path, or $TARN_SMTP_PASSWORD; NULL with terr set. */
static char *password(const backup_job_t *j)
{
	if (j->smtp_password_file) {
		FILE *f = fopen(j->smtp_password_file, "r");
		if (!f) {
			terr(errno, "cannot read smtp-password-file %s: %s", j->smtp_password_file, strerror(errno));
			return NULL;
		}
		char *line = NULL;
		size_t cap = 0;
		ssize_t n = getline(&line, &cap, f);
		fclose(f);
		if (n <= 0) {
			free(line);
			terr(EINVAL, "smtp-password-file %s is empty", j->smtp_password_file);
			return NULL;
		}
		line[strcspn(line, "\r\n")] = 0;
		return line;
	}
	const char *e = getenv("TARN_SMTP_PASSWORD");
	if (!e) {
		terr(EINVAL, "smtp-auth is set but there is no password (smtp-password-file or $TARN_SMTP_PASSWORD)");
		return NULL;
	}
	char *p = strdup(e);
	if (!p)
		terr(ENOMEM, "out of memory");
	return p;
}

/* The same text with CRLF line ends (curl's quoted-printable encoder then keeps lines). */
static char *crlf(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++)
		n += *p == '\n' ? 2 : 1;
	char *o = malloc(n + 1), *q = o;
	if (!o)
		return NULL;
	for (const char *p = s; *p; p++) {
		if (*p == '\n' && (p == s || p[-1] != '\r'))
			*q++ = '\r';
		*q++ = *p;
	}
	*q = 0;
	return o;
}

static int add_hdr(struct curl_slist **l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_hdr(struct curl_slist **l, const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	struct curl_slist *nl = curl_slist_append(*l, s);
	free(s);
	if (!nl)
		return -ENOMEM;
	*l = nl;
	return 0;
}

int backup_mail(const backup_job_t *j, const backup_run_t *r)
{
	static int inited;
	char *text = NULL, *html = NULL, *pw = NULL, subj[600], from[300], url[400], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *rcpt = NULL, *hdrs = NULL, *phdr = NULL;
	curl_mime *mime = NULL, *alt = NULL;
	CURL *c = NULL;
	int rc = 0;

	if (!inited) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return terr(EIO, "cannot initialise libcurl");
		inited = 1;
	}
	TRY(backup_report(r, &text, &html, subj, sizeof(subj)));
	char *t2 = crlf(text), *h2 = crlf(html);
	free(text);
	free(html);
	text = t2;
	html = h2;
	if (!text || !html) {
		rc = terr(ENOMEM, "out of memory");
		goto out;
	}
	if (j->mail_from)
		snprintf(from, sizeof(from), "%s", j->mail_from);
	else
		snprintf(from, sizeof(from), "tarn@%s", r->host);
	const char *server = j->smtp_server ? j->smtp_server : "localhost";
	unsigned port = j->smtp_port ? j->smtp_port : j->smtp_tls == BACKUP_TLS_SMTPS ? 465 : 25;
	int v6 = strchr(server, ':') != NULL;
	snprintf(url, sizeof(url), "%s://%s%s%s:%u", j->smtp_tls == BACKUP_TLS_SMTPS ? "smtps" : "smtp", v6 ? "[" : "",
		 server, v6 ? "]" : "", port);
	if (j->smtp_auth != BACKUP_AUTH_NONE && !(pw = password(j))) {
		rc = -EINVAL;
		goto out;
	}
	if (!(c = curl_easy_init())) {
		rc = terr(ENOMEM, "curl_easy_init failed");
		goto out;
	}
	for (int i = 0; i < j->nmail_to; i++)
		if (add_hdr(&rcpt, "<%s>", j->mail_to[i]) < 0) {
			rc = terr(ENOMEM, "out of memory");
			goto out;
		}
	char date[64], to[2048] = "";
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	for (int i = 0; i < j->nmail_to; i++)
		snprintf(to + strlen(to), sizeof(to) - strlen(to), "%s%s", i ? ", " : "", j->mail_to[i]);
	if (add_hdr(&hdrs, "Date: %s", date) < 0 || add_hdr(&hdrs, "From: %s", from) < 0 ||
	    add_hdr(&hdrs, "To: %s", to) < 0 || add_hdr(&hdrs, "Subject: %s", subj) < 0 ||
	    add_hdr(&hdrs, "Message-ID: <tarn-backup-%s-%lld-%d@%s>", r->job, (long long)now, (int)getpid(), r->host) < 0 ||
	    add_hdr(&hdrs, "X-Tarn-Backup-Job: %s", r->job) < 0 ||
	    add_hdr(&phdr, "Content-Disposition: inline") < 0) {
		rc = terr(ENOMEM, "out of memory");
		goto out;
	}
	mime = curl_mime_init(c);
	alt = curl_mime_init(c);
	if (!mime || !alt) {
		rc = terr(ENOMEM, "out of memory");
		goto out;
	}
	curl_mimepart *p = curl_mime_addpart(alt);
	if (!p || curl_mime_data(p, text, CURL_ZERO_TERMINATED) || curl_mime_type(p, "text/plain; charset=utf-8") ||
	    curl_mime_encoder(p, "quoted-printable")) {
		rc = terr(ENOMEM, "cannot build the message");
		goto out;
	}
	p = curl_mime_addpart(alt);
	if (!p || curl_mime_data(p, html, CURL_ZERO_TERMINATED) || curl_mime_type(p, "text/html; charset=utf-8") ||
	    curl_mime_encoder(p, "quoted-printable")) {
		rc = terr(ENOMEM, "cannot build the message");
		goto out;
	}
	p = curl_mime_addpart(mime);
	if (!p || curl_mime_subparts(p, alt)) {
		rc = terr(ENOMEM, "cannot build the message");
		goto out;
	}
	alt = NULL; /* owned by mime now */
	if (curl_mime_type(p, "multipart/alternative") || curl_mime_headers(p, phdr, 1)) {
		rc = terr(ENOMEM, "cannot build the message");
		goto out;
	}
	phdr = NULL;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	if (j->smtp_tls == BACKUP_TLS_STARTTLS)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (j->smtp_ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, j->smtp_ca_file);
	if (j->smtp_auth != BACKUP_AUTH_NONE) {
		curl_easy_setopt(c, CURLOPT_USERNAME, j->smtp_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, pw);
		curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, j->smtp_auth == BACKUP_AUTH_PLAIN ? "AUTH=PLAIN" : "AUTH=LOGIN");
	}
	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK)
		rc = terr(EIO, "mail to %s via %s: %s", to, url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
out:
	if (c)
		curl_easy_cleanup(c);
	curl_mime_free(alt);
	curl_mime_free(mime);
	curl_slist_free_all(rcpt);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(phdr);
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	free(text);
	free(html);
	return rc;
}
