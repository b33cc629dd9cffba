/* runbook_sections.c — the 'ssh', 'policy' and 'notify' sections (and
 * rd_mail_addr_ok, config/mail.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "config/mail.h"
#include "config/runbook_int.h"

static int user_ok(const char *u) {
  for (const char *p = u; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          strchr("._-\\@$", *p)))
      return 0;
  return *u && *u != '-';
}

void rb_load_ssh(ld *l) {
  static const char *const keys[] = {"user",    "identity",        "known_hosts",
                                     "port",    "sudo",            "agent",
                                     "passphrase", "connect_timeout", "command_timeout",
                                     NULL};
  rd_ssh_cfg *s = &l->rb->ssh;
  json_t *o = rb_member(l, l->root, "", "ssh", 1);
  const char *v;
  double t;
  s->connect_timeout_ms = 10000;
  s->command_timeout_ms = 120000;
  if (!o || !rb_is_type(l, o, "/ssh", JSON_OBJECT, "an object"))
    return;
  rd_jctx_check_keys(&l->j, o, "/ssh", keys);
  if ((v = rb_get_string(l, o, "/ssh", "user", 1))) {
    if (!user_ok(v))
      rd_jctx_err(&l->j, "/ssh/user", 1,
                  "'ssh.user' must be a login name (letters, digits, '.', '_', '-', '\\', "
                  "'@', '$'), got '%s'",
                  v);
    else
      s->user = rb_xstrdup(l, v);
  }
  s->agent = rb_get_bool(l, o, "/ssh", "agent", 0);
  s->sudo = rb_get_bool(l, o, "/ssh", "sudo", 0);
  if ((v = rb_get_string(l, o, "/ssh", "identity", 0)))
    s->identity = rb_resolve(l, v);
  else if (!json_object_get(o, "identity") && !s->agent)
    rd_jctx_err(&l->j, "/ssh", 0,
                "'ssh' needs 'identity' (a private key file, ed25519 or ecdsa) or "
                "\"agent\": true");
  if ((v = rb_get_string(l, o, "/ssh", "known_hosts", 0)))
    s->known_hosts = rb_resolve(l, v);
  else if (!json_object_get(o, "known_hosts"))
    rd_jctx_err(&l->j, "/ssh", 0,
                "missing required key 'known_hosts' in 'ssh': renewd always checks host keys "
                "(enrol them with 'renewd hosts trust')");
  l->ssh_port = (int)rb_get_int(l, o, "/ssh", "port", 1, 65535, 22);
  if (json_object_get(o, "passphrase"))
    rb_secret_ref(l, json_object_get(o, "passphrase"), "/ssh/passphrase", "passphrase",
               &s->passphrase, 0);
  if ((t = rb_get_duration(l, o, "/ssh", "connect_timeout", 10, 0, NULL)) > 0)
    s->connect_timeout_ms = (long)(t * 1000);
  if ((t = rb_get_duration(l, o, "/ssh", "command_timeout", 120, 0, NULL)) > 0)
    s->command_timeout_ms = (long)(t * 1000);
}

/* "33%" or "12.5%": digits with at most one point, then '%' -> 0.33 / 0.125
 * in *f; -1 when not that or not above 0 and below 100. */
static int percent_value(const char *s, double *f) {
  size_t n = strlen(s), dots = 0, i;
  double v;
  if (n < 2 || s[n - 1] != '%')
    return -1;
  for (i = 0; i + 1 < n; i++) {
    if (s[i] == '.')
      dots++;
    else if (s[i] < '0' || s[i] > '9')
      return -1;
  }
  if (dots > 1 || s[0] == '.' || s[n - 2] == '.')
    return -1;
  v = strtod(s, NULL);
  if (!(v > 0 && v < 100))
    return -1;
  *f = v / 100;
  return 0;
}

/* policy.renew_before as a share of the lifetime ("33%", as cert-manager's
 * renewBeforePercentage): sets renew_fraction; 1 when the value is one (or
 * a wrong one, reported), 0 when it is a duration. */
static int renew_before_percent(ld *l, const json_t *o, const char *ptr, const char *w,
                                rd_policy *p) {
  const char *v = json_string_value(json_object_get(o, "renew_before"));
  char q[PTR_MAX];
  double f;
  if (!v || !strchr(v, '%'))
    return 0;
  rb_child(q, sizeof q, ptr, "renew_before");
  if (percent_value(v, &f))
    rd_jctx_err(&l->j, q, 1,
                "'%s.renew_before' as a share of the lifetime must be a percentage above 0 "
                "and below 100, e.g. \"33%%\" (renew when a third of the lifetime is left); "
                "got '%s'",
                w, v);
  else if (json_object_get(o, "renew_fraction")) {
    rb_child(q, sizeof q, ptr, "renew_fraction");
    rd_jctx_err(&l->j, q, 0,
                "'%s.renew_fraction' and a percentage in '%s.renew_before' both give "
                "the share of the lifetime: keep one",
                w, w);
  } else {
    p->renew_fraction = f;
    p->renew_before_days = 0; /* over a duration the runbook's policy gave */
  }
  return 1;
}

/* The policy object o at ptr over p (filled with what applies when a
 * member is absent: the defaults, or the runbook's policy for a
 * certificate's own). */
void rb_policy_at(ld *l, json_t *o, const char *ptr, rd_policy *p) {
  static const char *const keys[] = {"renew_before", "renew_fraction", "key", "rotate_key",
                                     NULL};
  static const char *const key_keys[] = {"type", "bits", "curve", NULL};
  char w[PTR_MAX], kp[PTR_MAX], q[PTR_MAX];
  json_t *k, *f;
  double before;
  if (!rb_is_type(l, o, ptr, JSON_OBJECT, "an object"))
    return;
  DISP(l, ptr, w);
  rd_jctx_check_keys(&l->j, o, ptr, keys);
  before = renew_before_percent(l, o, ptr, w, p)
               ? 0
               : rb_get_duration(l, o, ptr, "renew_before", 0, 0, NULL);
  if (before > 0) {
    p->renew_before_days = before / 86400;
    p->renew_fraction = 0;
  }
  rb_child(q, sizeof q, ptr, "renew_fraction");
  if ((f = json_object_get(o, "renew_fraction"))) {
    if (!json_is_number(f))
      rd_jctx_err(&l->j, q, 1,
                  "'%s.renew_fraction' must be a number between 0 and 1 (exclusive), got %s", w,
                  rd_json_type_name(f));
    else if (json_number_value(f) <= 0 || json_number_value(f) >= 1)
      rd_jctx_err(&l->j, q, 1,
                  "'%s.renew_fraction' must be between 0 and 1 (exclusive): the share of "
                  "the lifetime left when renewal starts, e.g. 0.33; got %g",
                  w, json_number_value(f));
    else
      p->renew_fraction = json_number_value(f);
  }
  p->rotate_key = rb_get_bool(l, o, ptr, "rotate_key", p->rotate_key);
  rb_child(kp, sizeof kp, ptr, "key");
  if (!(k = json_object_get(o, "key")) || !rb_is_type(l, k, kp, JSON_OBJECT, "an object"))
    return;
  rd_jctx_check_keys(&l->j, k, kp, key_keys);
  {
    const char *t = rb_get_string(l, k, kp, "type", 0);
    const char *curve = rb_get_string(l, k, kp, "curve", 0);
    json_t *bits = json_object_get(k, "bits");
    char bp[PTR_MAX], cp[PTR_MAX], tp[PTR_MAX];
    rb_child(bp, sizeof bp, kp, "bits");
    rb_child(cp, sizeof cp, kp, "curve");
    rb_child(tp, sizeof tp, kp, "type");
    if (!t || !strcmp(t, "rsa")) {
      free(p->key_type);
      p->key_type = rb_xstrdup(l, "rsa");
      free(p->curve);
      p->curve = NULL;
      if (!bits)
        p->key_bits = 2048;
      if (curve)
        rd_jctx_err(&l->j, cp, 0, "'%s.key.curve' applies to EC keys; RSA keys take 'bits'", w);
      if (bits) {
        if (!json_is_integer(bits) || (json_integer_value(bits) != 2048 &&
                                       json_integer_value(bits) != 3072 &&
                                       json_integer_value(bits) != 4096))
          rd_jctx_err(&l->j, bp, 1, "'%s.key.bits' must be 2048, 3072 or 4096", w);
        else
          p->key_bits = (int)json_integer_value(bits);
      }
    } else if (!strcmp(t, "ec")) {
      free(p->key_type);
      p->key_type = rb_xstrdup(l, "ec");
      p->key_bits = 0;
      if (bits)
        rd_jctx_err(&l->j, bp, 0, "'%s.key.bits' applies to RSA keys; EC keys take 'curve'", w);
      free(p->curve);
      p->curve = NULL;
      if (curve && strcmp(curve, "P-256") && strcmp(curve, "P-384") && strcmp(curve, "P-521"))
        rd_jctx_err(&l->j, cp, 1,
                    "'%s.key.curve' must be \"P-256\", \"P-384\" or \"P-521\", got '%s'", w,
                    curve);
      else
        p->curve = rb_xstrdup(l, curve ? curve : "P-256");
    } else {
      rd_jctx_err(&l->j, tp, 1, "'%s.key.type' must be \"rsa\" or \"ec\", got '%s'", w, t);
    }
  }
}

void rb_load_policy(ld *l) {
  rd_policy *p = &l->rb->policy;
  json_t *o = rb_member(l, l->root, "", "policy", 0);
  p->renew_fraction = 1.0 / 3;
  p->key_type = rb_xstrdup(l, "rsa");
  p->key_bits = 2048;
  p->rotate_key = 1;
  if (o)
    rb_policy_at(l, o, "/policy", p);
}

int rd_mail_addr_ok(const char *a) {
  const char *at = a ? strchr(a, '@') : NULL;
  if (!at || at == a || !at[1] || strchr(at + 1, '@'))
    return 0;
  for (const unsigned char *p = (const unsigned char *)a; *p; p++)
    if (*p <= 0x20 || *p >= 0x7f || strchr("<>()[],;:\"\\", *p))
      return 0;
  return 1;
}

/* notify.email: the SMTP URL carries no login (user and password are
 * members: a password in a URL would reach every message naming it), and
 * a password never travels in clear (smtps://, or smtp:// with STARTTLS). */
static void load_email(ld *l, json_t *x) {
  static const char *const mail_keys[] = {"smtp", "from", "to", "user", "password",
                                          "starttls", "ca_bundle", "digest", NULL};
  static const char *const smtp_schemes[] = {"smtp://", "smtps://", NULL};
  const char *v, *url;
  json_t *to;
  rd_jctx_check_keys(&l->j, x, "/notify/email", mail_keys);
  if ((url = rb_get_string(l, x, "/notify/email", "smtp", 1))) {
    const char *host = strstr(url, "://");
    if (!rb_url_ok(url, smtp_schemes))
      rd_jctx_err(&l->j, "/notify/email/smtp", 1,
                  "'notify.email.smtp' must be an smtp:// or smtps:// URL, got '%s'", url);
    else if (host && memchr(host, '@', strcspn(host + 3, "/") + 3))
      rd_jctx_err(&l->j, "/notify/email/smtp", 1,
                  "'notify.email.smtp' must not carry a login: put it in 'notify.email.user' "
                  "and 'notify.email.password' ({\"file\": ...} or {\"env\": ...})");
  }
  if ((v = rb_get_string(l, x, "/notify/email", "from", 1)) && !rd_mail_addr_ok(v))
    rd_jctx_err(&l->j, "/notify/email/from", 1,
                "'notify.email.from' must be a mail address like renewd@example.com, got '%s'",
                v);
  const char *user = rb_get_string(l, x, "/notify/email", "user", 0);
  int starttls = rb_get_bool(l, x, "/notify/email", "starttls", 1);
  if ((v = rb_get_string(l, x, "/notify/email", "ca_bundle", 0)) && v[0] != '/') {
    char *abs = rb_resolve(l, v);
    if (abs)
      json_object_set_new(x, "ca_bundle", json_string(abs));
    free(abs);
  }
  if ((v = rb_get_string(l, x, "/notify/email", "digest", 0))) {
    int hh = -1, mm = -1, end = 0;
    if (sscanf(v, "%2d:%2d%n", &hh, &mm, &end) != 2 || v[end] || strlen(v) != 5 || hh < 0 ||
        hh > 23 || mm < 0 || mm > 59)
      rd_jctx_err(&l->j, "/notify/email/digest", 1,
                  "'notify.email.digest' must be a local time of day HH:MM like \"07:00\", got '%s'",
                  v);
  }
  if (json_object_get(x, "password") && !user)
    rd_jctx_err(&l->j, "/notify/email/password", 1,
                "'notify.email.password' needs 'notify.email.user'");
  if (json_object_get(x, "password") && !starttls && url && !strncasecmp(url, "smtp://", 7))
    rd_jctx_err(&l->j, "/notify/email/starttls", 1,
                "'notify.email.starttls' is false: the password would cross the network in "
                "clear; use STARTTLS or an smtps:// URL");
  if ((to = rb_member(l, x, "/notify/email", "to", 1)) &&
      rb_is_type(l, to, "/notify/email/to", JSON_ARRAY, "an array of mail addresses")) {
    size_t i;
    json_t *m;
    if (!json_array_size(to))
      rd_jctx_err(&l->j, "/notify/email/to", 1, "'notify.email.to' is empty");
    json_array_foreach(to, i, m) {
      char p[PTR_MAX];
      rb_child_i(p, sizeof p, "/notify/email/to", i);
      if (!json_is_string(m) || !rd_mail_addr_ok(json_string_value(m)))
        rd_jctx_err(&l->j, p, 1,
                    "'notify.email.to[%zu]' must be a mail address like ops@example.com", i);
    }
  }
}

void rb_load_notify(ld *l) {
  static const char *const keys[] = {"webhook", "email", "before_expiry_days", NULL};
  static const char *const wh_keys[] = {"url", "token", NULL};
  static const char *const http_schemes[] = {"http://", "https://", NULL};
  json_t *o = rb_member(l, l->root, "", "notify", 0), *x;
  const char *v;
  if (!o || !rb_is_type(l, o, "/notify", JSON_OBJECT, "an object"))
    return;
  rd_jctx_check_keys(&l->j, o, "/notify", keys);
  if ((x = json_object_get(o, "webhook")) &&
      rb_is_type(l, x, "/notify/webhook", JSON_OBJECT, "an object")) {
    rd_jctx_check_keys(&l->j, x, "/notify/webhook", wh_keys);
    if ((v = rb_get_string(l, x, "/notify/webhook", "url", 1)) && !rb_url_ok(v, http_schemes))
      rd_jctx_err(&l->j, "/notify/webhook/url", 1,
                  "'notify.webhook.url' must be an http:// or https:// URL, got '%s'", v);
  }
  if ((x = json_object_get(o, "email")) &&
      rb_is_type(l, x, "/notify/email", JSON_OBJECT, "an object"))
    load_email(l, x);
  if ((x = json_object_get(o, "before_expiry_days")) &&
      rb_is_type(l, x, "/notify/before_expiry_days", JSON_ARRAY,
              "an array of day counts like [60, 30, 14]")) {
    size_t i;
    json_t *m;
    json_array_foreach(x, i, m) {
      char p[PTR_MAX];
      rb_child_i(p, sizeof p, "/notify/before_expiry_days", i);
      if (!json_is_integer(m) || json_integer_value(m) < 1) {
        rd_jctx_err(&l->j, p, 1,
                    "'notify.before_expiry_days[%zu]' must be a whole number of days ≥ 1", i);
        continue;
      }
      for (size_t j = 0; j < i; j++)
        if (json_equal(json_array_get(x, j), m)) {
          rd_jctx_err(&l->j, p, 1, "'notify.before_expiry_days' lists %lld twice",
                      (long long)json_integer_value(m));
          break;
        }
    }
  }
}
