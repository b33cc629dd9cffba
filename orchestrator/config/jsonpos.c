/* jsonpos.c — see jsonpos.h. A recursive-descent walk over the JSON text that
 * records, for every value, its JSON pointer and where its key and value
 * start. It validates only as much as it needs to keep its place. */
#include "config/jsonpos.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "renewd/plugin.h"
#include "config/runbook.h"
#include "base/util.h"

#define MAX_DEPTH 512

typedef struct entry {
  char *ptr;
  int kline, kcol; /* key, or the value for array elements and the root */
  int vline, vcol;
} entry;

struct rd_jsonpos {
  entry *e;
  size_t n, cap;
};

typedef struct scanner {
  const char *s;
  size_t len, pos;
  int line, chars; /* chars consumed on the current line */
  int failed;      /* syntax error or out of memory: stop */
  int nomem;
  rd_jsonpos *map;
  char *path; /* current pointer, grows */
  size_t plen, pcap;
} scanner;

static int cur(const scanner *sc) {
  return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : -1;
}

static void advance(scanner *sc) {
  unsigned char b;
  if (sc->pos >= sc->len)
    return;
  b = (unsigned char)sc->s[sc->pos++];
  if (b == '\n') {
    sc->line++;
    sc->chars = 0;
  } else if ((b & 0xC0) != 0x80) {
    sc->chars++;
  }
}

static void skip_ws(scanner *sc) {
  for (;;) {
    int c = cur(sc);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
      advance(sc);
    else
      return;
  }
}

static int path_append(scanner *sc, const char *tok, size_t toklen) {
  /* worst case every byte escapes to two, plus '/' and NUL */
  size_t need = sc->plen + 2 * toklen + 2;
  if (need > sc->pcap) {
    size_t cap = sc->pcap ? sc->pcap : 64;
    char *np;
    while (cap < need)
      cap *= 2;
    if (!(np = realloc(sc->path, cap))) {
      sc->nomem = sc->failed = 1;
      return -1;
    }
    sc->path = np;
    sc->pcap = cap;
  }
  sc->path[sc->plen++] = '/';
  for (size_t i = 0; i < toklen; i++) {
    if (tok[i] == '~') {
      sc->path[sc->plen++] = '~';
      sc->path[sc->plen++] = '0';
    } else if (tok[i] == '/') {
      sc->path[sc->plen++] = '~';
      sc->path[sc->plen++] = '1';
    } else {
      sc->path[sc->plen++] = tok[i];
    }
  }
  sc->path[sc->plen] = '\0';
  return 0;
}

static void record(scanner *sc, int kline, int kcol, int vline, int vcol) {
  rd_jsonpos *m = sc->map;
  entry *e;
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    entry *ne = realloc(m->e, cap * sizeof *ne);
    if (!ne) {
      sc->nomem = sc->failed = 1;
      return;
    }
    m->e = ne;
    m->cap = cap;
  }
  e = &m->e[m->n];
  if (!(e->ptr = strndup(sc->path ? sc->path : "", sc->plen))) {
    sc->nomem = sc->failed = 1;
    return;
  }
  e->kline = kline;
  e->kcol = kcol;
  e->vline = vline;
  e->vcol = vcol;
  m->n++;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int read_u4(scanner *sc, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(cur(sc));
    if (h < 0)
      return -1;
    v = v * 16 + (unsigned)h;
    advance(sc);
  }
  *out = v;
  return 0;
}

static void put_utf8(char *buf, size_t *n, unsigned cp) {
  if (cp < 0x80) {
    buf[(*n)++] = (char)cp;
  } else if (cp < 0x800) {
    buf[(*n)++] = (char)(0xC0 | (cp >> 6));
    buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    buf[(*n)++] = (char)(0xE0 | (cp >> 12));
    buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    buf[(*n)++] = (char)(0xF0 | (cp >> 18));
    buf[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
  }
}

/* Scan a string at '"'. With out != NULL, return its decoded bytes (malloc'd)
 * in *out / *outlen; decoded text is never longer than the source. */
static int scan_string(scanner *sc, char **out, size_t *outlen) {
  size_t start = sc->pos, n = 0;
  char *buf = NULL;
  if (cur(sc) != '"')
    return -1;
  advance(sc);
  if (out && !(buf = malloc(sc->len - start + 1))) {
    sc->nomem = sc->failed = 1;
    return -1;
  }
  for (;;) {
    int c = cur(sc);
    if (c < 0 || c == '\n')
      goto bad;
    if (c == '"') {
      advance(sc);
      break;
    }
    if (c == '\\') {
      advance(sc);
      c = cur(sc);
      if (c < 0)
        goto bad;
      if (c == 'u') {
        unsigned cp, lo;
        advance(sc);
        if (read_u4(sc, &cp))
          goto bad;
        if (cp >= 0xD800 && cp < 0xDC00 && cur(sc) == '\\') {
          size_t save = sc->pos;
          int sl = sc->line, sch = sc->chars;
          advance(sc);
          if (cur(sc) == 'u') {
            advance(sc);
            if (read_u4(sc, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              sc->pos = save;
              sc->line = sl;
              sc->chars = sch;
            }
          } else {
            sc->pos = save;
            sc->line = sl;
            sc->chars = sch;
          }
        }
        if (buf)
          put_utf8(buf, &n, cp);
        continue;
      }
      if (buf) {
        char d = (char)c;
        switch (c) {
        case 'n': d = '\n'; break;
        case 't': d = '\t'; break;
        case 'r': d = '\r'; break;
        case 'b': d = '\b'; break;
        case 'f': d = '\f'; break;
        default: break;
        }
        buf[n++] = d;
      }
      advance(sc);
      continue;
    }
    if (buf)
      buf[n++] = (char)c;
    advance(sc);
  }
  if (buf) {
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
  }
  return 0;
bad:
  free(buf);
  sc->failed = 1;
  return -1;
}

static void scan_value(scanner *sc, int kline, int kcol, int depth);

/* After a member or an element: the path back to its parent's (saved
 * length); 1 after a ',' (another item follows), 0 after close or an error. */
static int after_item(scanner *sc, size_t saved, char close) {
  sc->plen = saved;
  sc->path[saved] = '\0';
  if (sc->failed)
    return 0;
  skip_ws(sc);
  if (cur(sc) == ',') {
    advance(sc);
    return 1;
  }
  if (cur(sc) == close) {
    advance(sc);
    return 0;
  }
  sc->failed = 1;
  return 0;
}

static void scan_object(scanner *sc, int depth) {
  advance(sc); /* '{' */
  skip_ws(sc);
  if (cur(sc) == '}') {
    advance(sc);
    return;
  }
  for (;;) {
    char *key = NULL;
    size_t klen = 0, saved = sc->plen;
    int kline, kcol;
    skip_ws(sc);
    kline = sc->line;
    kcol = sc->chars + 1;
    if (cur(sc) != '"' || scan_string(sc, &key, &klen)) {
      sc->failed = 1;
      return;
    }
    if (path_append(sc, key, klen)) {
      free(key);
      return;
    }
    free(key);
    skip_ws(sc);
    if (cur(sc) != ':') {
      sc->failed = 1;
      return;
    }
    advance(sc);
    skip_ws(sc);
    scan_value(sc, kline, kcol, depth + 1);
    if (!after_item(sc, saved, '}'))
      return;
  }
}

static void scan_array(scanner *sc, int depth) {
  size_t index = 0;
  advance(sc); /* '[' */
  skip_ws(sc);
  if (cur(sc) == ']') {
    advance(sc);
    return;
  }
  for (;;) {
    char tok[32];
    size_t saved = sc->plen;
    int l = snprintf(tok, sizeof tok, "%zu", index++);
    skip_ws(sc);
    if (path_append(sc, tok, (size_t)l))
      return;
    scan_value(sc, sc->line, sc->chars + 1, depth + 1);
    if (!after_item(sc, saved, ']'))
      return;
  }
}

static int is_scalar_char(int c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         c == '-' || c == '+' || c == '.';
}

static void scan_value(scanner *sc, int kline, int kcol, int depth) {
  int c = cur(sc);
  if (depth > MAX_DEPTH || !(c == '{' || c == '[' || c == '"' || is_scalar_char(c))) {
    sc->failed = 1;
    return;
  }
  record(sc, kline, kcol, sc->line, sc->chars + 1);
  if (sc->failed)
    return;
  if (c == '{') {
    scan_object(sc, depth);
  } else if (c == '[') {
    scan_array(sc, depth);
  } else if (c == '"') {
    scan_string(sc, NULL, NULL);
  } else {
    while (is_scalar_char(cur(sc)))
      advance(sc);
  }
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const entry *)a)->ptr, ((const entry *)b)->ptr);
}

int rd_jsonpos_scan(const char *text, size_t len, rd_jsonpos **out) {
  scanner sc = {0};
  *out = NULL;
  if (!(sc.map = calloc(1, sizeof *sc.map)))
    return RD_ENOMEM;
  sc.s = text;
  sc.len = len;
  sc.line = 1;
  if (sc.len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) /* BOM */
    sc.pos = 3;
  skip_ws(&sc);
  if (cur(&sc) >= 0) {
    if (path_append(&sc, "", 0) == 0) { /* make sc.path non-NULL */
      sc.plen = 0;
      sc.path[0] = '\0';
      scan_value(&sc, sc.line, sc.chars + 1, 0);
    }
  }
  free(sc.path);
  if (sc.nomem) {
    rd_jsonpos_free(sc.map);
    return RD_ENOMEM;
  }
  if (sc.map->n)
    qsort(sc.map->e, sc.map->n, sizeof *sc.map->e, cmp_entry);
  *out = sc.map;
  return 0;
}

void rd_jsonpos_free(rd_jsonpos *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->n; i++)
    free(p->e[i].ptr);
  free(p->e);
  free(p);
}

static const entry *find(const rd_jsonpos *p, const char *ptr) {
  entry key;
  if (!p || !ptr || !p->n)
    return NULL;
  key.ptr = (char *)ptr;
  return bsearch(&key, p->e, p->n, sizeof *p->e, cmp_entry);
}

int rd_jsonpos_key(const rd_jsonpos *p, const char *ptr, int *line, int *column) {
  const entry *e = find(p, ptr);
  if (!e)
    return RD_ENOTFOUND;
  *line = e->kline;
  *column = e->kcol;
  return 0;
}

int rd_jsonpos_value(const rd_jsonpos *p, const char *ptr, int *line, int *column) {
  const entry *e = find(p, ptr);
  if (!e)
    return RD_ENOTFOUND;
  *line = e->vline;
  *column = e->vcol;
  return 0;
}

void rd_jsonpos_near(const rd_jsonpos *p, const char *ptr, int value, int *line,
                     int *column) {
  char buf[1024];
  const entry *e;
  *line = *column = 0;
  if (!ptr)
    return;
  snprintf(buf, sizeof buf, "%s", ptr);
  if ((e = find(p, buf))) {
    *line = value ? e->vline : e->kline;
    *column = value ? e->vcol : e->kcol;
    return;
  }
  for (;;) {
    char *slash = strrchr(buf, '/');
    if (!slash)
      return;
    *slash = '\0';
    if ((e = find(p, buf))) {
      *line = e->kline;
      *column = e->kcol;
      return;
    }
  }
}

char *rd_jsonptr_push(char *buf, size_t len, const char *token) {
  size_t n = strlen(buf);
  if (n + 1 < len)
    buf[n++] = '/';
  for (const char *t = token; *t && n + 1 < len; t++) {
    if (*t == '~' || *t == '/') {
      if (n + 2 >= len)
        break;
      buf[n++] = '~';
      buf[n++] = *t == '~' ? '0' : '1';
    } else {
      buf[n++] = *t;
    }
  }
  buf[n < len ? n : len - 1] = '\0';
  return buf;
}

char *rd_jsonptr_push_index(char *buf, size_t len, size_t index) {
  char tok[32];
  snprintf(tok, sizeof tok, "%zu", index);
  return rd_jsonptr_push(buf, len, tok);
}

/* --- diagnostics helpers --- */

void rd_jctx_err(rd_jctx *c, const char *ptr, int at_value, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  int line = 0, col = 0;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  rd_jsonpos_near(c->pos, ptr, at_value, &line, &col);
  rd_diag_add(c->diag, c->file, line, col, "%s", msg);
  c->errors++;
}

/* Next token of ptr (unescaped) into tok; returns the rest or NULL at end. */
static const char *next_token(const char *ptr, char *tok, size_t len) {
  size_t n = 0;
  if (!ptr || *ptr != '/')
    return NULL;
  ptr++;
  while (*ptr && *ptr != '/') {
    char ch = *ptr++;
    if (ch == '~' && (*ptr == '0' || *ptr == '1'))
      ch = *ptr++ == '0' ? '~' : '/';
    if (n + 1 < len)
      tok[n++] = ch;
  }
  tok[n] = '\0';
  return ptr;
}

char *rd_jctx_display(const rd_jctx *c, const char *ptr, char *buf, size_t len) {
  const json_t *node = c ? c->root : NULL;
  char tok[512];
  size_t n = 0;
  buf[0] = '\0';
  if (!ptr || !*ptr) {
    snprintf(buf, len, "the top level");
    return buf;
  }
  while ((ptr = next_token(ptr, tok, sizeof tok))) {
    int w;
    if (json_is_array(node)) {
      w = snprintf(buf + n, len - n, "[%s]", tok);
      node = json_array_get(node, strtoul(tok, NULL, 10));
    } else {
      w = snprintf(buf + n, len - n, "%s%s", n ? "." : "", tok);
      node = json_is_object(node) ? json_object_get(node, tok) : NULL;
    }
    if (w < 0 || (size_t)w >= len - n)
      break;
    n += (size_t)w;
  }
  return buf;
}

const char *rd_json_type_name(const json_t *v) {
  switch (v ? json_typeof(v) : JSON_NULL) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER: return "integer";
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  default: return "null";
  }
}

const char *rd_suggest(const char *word, const char *const *candidates, size_t n) {
  const char *best = NULL;
  size_t bestd = (size_t)-1, wl = strlen(word);
  for (size_t i = 0; i < n; i++) {
    size_t d;
    if (!candidates[i])
      continue;
    if (!strcasecmp(word, candidates[i]))
      return candidates[i];
    d = rd_edit_distance(word, candidates[i]);
    if (d < bestd) {
      bestd = d;
      best = candidates[i];
    }
  }
  /* a typo, not a different word: a few edits, and fewer than the word has */
  if (best && bestd <= 2 + wl / 5 && bestd < wl && bestd < strlen(best))
    return best;
  return NULL;
}

void rd_jctx_check_keys(rd_jctx *c, const json_t *obj, const char *ptr,
                        const char *const *allowed) {
  const char *key;
  json_t *v;
  size_t nallowed = 0;
  char where[512];
  while (allowed[nallowed])
    nallowed++;
  rd_jctx_display(c, ptr, where, sizeof where);
  json_object_foreach((json_t *)obj, key, v) {
    char kp[1024], list[1024];
    const char *sugg;
    size_t i, n = 0;
    int known = 0;
    for (i = 0; i < nallowed && !known; i++)
      known = !strcmp(key, allowed[i]);
    if (known)
      continue;
    snprintf(kp, sizeof kp, "%s", ptr ? ptr : "");
    rd_jsonptr_push(kp, sizeof kp, key);
    if ((sugg = rd_suggest(key, allowed, nallowed))) {
      rd_jctx_err(c, kp, 0, "unknown key '%s' in %s%s%s; did you mean '%s'?", key,
                  ptr && *ptr ? "'" : "", where, ptr && *ptr ? "'" : "", sugg);
      continue;
    }
    list[0] = '\0';
    for (i = 0; i < nallowed; i++) {
      int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", allowed[i]);
      if (w < 0 || (size_t)w >= sizeof list - n)
        break;
      n += (size_t)w;
    }
    rd_jctx_err(c, kp, 0, "unknown key '%s' in %s%s%s; expected one of: %s", key,
                ptr && *ptr ? "'" : "", where, ptr && *ptr ? "'" : "", list);
  }
}

int rd_text_nul_at(const char *text, size_t len, int *line, int *column) {
  const char *nul = memchr(text, '\0', len);
  scanner sc = {.s = text, .len = nul ? (size_t)(nul - text) : 0, .line = 1};
  if (!nul)
    return 0;
  while (sc.pos < sc.len) /* the scanner's own line and column count */
    advance(&sc);
  *line = sc.line;
  *column = sc.chars + 1;
  return 1;
}

int rd_diag_text_nul(struct rd_diag *d, const char *file, const char *text, size_t len,
                     const char *what) {
  int line, column;
  if (!rd_text_nul_at(text, len, &line, &column))
    return 0;
  rd_diag_add(d, file, line, column,
              "a NUL byte (0x00): %s is JSON text, which holds none (a binary or UTF-16 "
              "file? save it as UTF-8)",
              what);
  return 1;
}
