/* smtp.c — one mail through libcurl's SMTP as a libuv work item (smtp.h).
 *
 * transport/http.c drives curl's multi interface on the loop, but it takes
 * only GET and POST requests; rather than copy its socket and timer
 * machinery, a mail (rare, small, bounded by its timeout) is one easy
 * transfer in the thread pool. */
#include "transport/smtp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/err.h"

#define DEF_TIMEOUT_MS 30000L

typedef struct smtp_job {
  uv_work_t work;
  char *url, *from, *user, *password, *ca_bundle, *data;
  char **to;
  size_t nto, len, off;
  int starttls;
  long timeout_ms;
  rd_smtp_done cb;
  void *arg;
  int status;
  char msg[CURL_ERROR_SIZE + 300];
} smtp_job;

static void wipe_free(char *s) {
  if (s) {
    volatile char *p = s;
    while (*p)
      *p++ = 0;
    free(s);
  }
}

static void job_free(smtp_job *j) {
  free(j->url);
  free(j->from);
  free(j->user);
  wipe_free(j->password);
  free(j->ca_bundle);
  free(j->data);
  for (size_t i = 0; i < j->nto; i++)
    free(j->to[i]);
  free(j->to);
  free(j);
}

static size_t on_read(char *buf, size_t sz, size_t n, void *arg) {
  smtp_job *j = arg;
  size_t want = sz * n, left = j->len - j->off;
  if (want > left)
    want = left;
  memcpy(buf, j->data + j->off, want);
  j->off += want;
  return want;
}

static int classify(CURL *e, CURLcode rc) {
  long oserr = 0;
  switch (rc) {
  case CURLE_OK:
    return 0;
  case CURLE_OPERATION_TIMEDOUT:
    return RD_ETIMEDOUT;
  case CURLE_COULDNT_CONNECT:
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &oserr);
    return oserr == ECONNREFUSED ? RD_ECONNREFUSED : RD_ENETWORK;
  case CURLE_LOGIN_DENIED:
    return RD_EAUTH;
  case CURLE_PEER_FAILED_VERIFICATION:
    return RD_EVERIFY;
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
    return RD_ECONFIG;
  case CURLE_OUT_OF_MEMORY:
    return RD_ENOMEM;
  default:
    return RD_ENETWORK;
  }
}

static void on_work(uv_work_t *w) {
  smtp_job *j = w->data;
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *rcpt = NULL;
  CURL *e = curl_easy_init();
  CURLcode rc = CURLE_OUT_OF_MEMORY;
  for (size_t i = 0; e && i < j->nto; i++) {
    struct curl_slist *l = curl_slist_append(rcpt, j->to[i]);
    if (!l)
      goto out;
    rcpt = l;
  }
  if (!e)
    goto out;
  curl_easy_setopt(e, CURLOPT_URL, j->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, j->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, j->timeout_ms);
  curl_easy_setopt(e, CURLOPT_MAIL_FROM, j->from);
  curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt(e, CURLOPT_READDATA, j);
  curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->len);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (j->starttls)
    curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
  if (j->ca_bundle)
    curl_easy_setopt(e, CURLOPT_CAINFO, j->ca_bundle);
  if (j->user) {
    curl_easy_setopt(e, CURLOPT_USERNAME, j->user);
    curl_easy_setopt(e, CURLOPT_PASSWORD, j->password ? j->password : "");
  }
  rc = curl_easy_perform(e);
out:
  j->status = e ? classify(e, rc) : RD_ENOMEM;
  if (j->status) {
    size_t n;
    rd_fmt(j->msg, sizeof j->msg, "%s: %s", j->url, *errbuf ? errbuf : curl_easy_strerror(rc));
    n = strlen(j->msg); /* curl's buffer may end in a newline */
    while (n && (j->msg[n - 1] == '\n' || j->msg[n - 1] == '\r'))
      j->msg[--n] = 0;
  }
  curl_slist_free_all(rcpt);
  if (e)
    curl_easy_cleanup(e);
}

static void on_after(uv_work_t *w, int status) {
  smtp_job *j = w->data;
  if (status && !j->status) { /* never canceled by us; say so if it was */
    j->status = RD_ECANCELED;
    rd_fmt(j->msg, sizeof j->msg, "%s: canceled", j->url);
  }
  j->cb(j->status, j->msg, j->arg);
  job_free(j);
}

static int dup_to(char **dst, const char *s) {
  return s && !(*dst = strdup(s)) ? RD_ENOMEM : 0;
}

int rd_smtp_send(uv_loop_t *loop, const rd_smtp_mail *m, rd_smtp_done cb, void *arg) {
  smtp_job *j;
  size_t n = 0;
  if (!loop || !m || !cb || !m->url || !m->from || !m->to || !m->to[0] || !m->data ||
      (m->user && !m->password))
    return RD_EINVAL;
  while (m->to[n])
    n++;
  if (!(j = calloc(1, sizeof *j)))
    return RD_ENOMEM;
  if (dup_to(&j->url, m->url) || dup_to(&j->from, m->from) || dup_to(&j->user, m->user) ||
      dup_to(&j->password, m->password) || dup_to(&j->ca_bundle, m->ca_bundle) ||
      !(j->data = malloc(m->len ? m->len : 1)) || !(j->to = calloc(n, sizeof *j->to)))
    goto oom;
  memcpy(j->data, m->data, m->len);
  j->len = m->len;
  for (; j->nto < n; j->nto++)
    if (dup_to(&j->to[j->nto], m->to[j->nto]))
      goto oom;
  j->starttls = m->starttls;
  j->timeout_ms = m->timeout_ms > 0 ? m->timeout_ms : DEF_TIMEOUT_MS;
  j->cb = cb;
  j->arg = arg;
  j->work.data = j;
  if (uv_queue_work(loop, &j->work, on_work, on_after)) {
    job_free(j);
    return RD_EIO;
  }
  return 0;
oom:
  job_free(j);
  return RD_ENOMEM;
}
