/* fuzz_jsonpos.c — the JSON position map (config/jsonpos.h) on any text.
 * rd_jsonpos_scan() must accept anything; when jansson parses the text too,
 * every member and element of the document must be found in the map, at a
 * position inside the text, down to the scanner's depth limit (512).
 * Texts with a NUL byte are not compared: jansson 2.14 skips a NUL right
 * after a number or literal ("22\0," parses), the map stops there
 * (docs/RELIABILITY.md). */
#include <jansson.h>
#include "base/err.h"
#include "config/jsonpos.h"
#include "fuzz_util.h"

enum { CHECK_DEPTH = 500, PTR_MAX = 16384 };

static int line_count(const uint8_t *data, size_t size) {
  int n = 1;
  for (size_t i = 0; i < size; i++)
    n += data[i] == '\n';
  return n;
}

static void check(const rd_jsonpos *p, const char *ptr, int lines) {
  int line = 0, col = 0;
  if (rd_jsonpos_value(p, ptr, &line, &col) != 0 || line < 1 || line > lines || col < 1 ||
      (*ptr && (rd_jsonpos_key(p, ptr, &line, &col) != 0 || line < 1 || line > lines ||
                col < 1))) {
    fprintf(stderr, "jsonpos: \"%s\" not in the map (or outside the text)\n", ptr);
    abort(); /* a value of the document not in the map */
  }
  rd_jsonpos_near(p, ptr, 1, &line, &col);
}

static void walk(const rd_jsonpos *p, const json_t *v, char *ptr, size_t len, int lines,
                 int depth) {
  size_t at = strlen(ptr);
  if (depth > CHECK_DEPTH || at + 1 >= len)
    return; /* beyond the scanner's depth, or a pointer cut short */
  check(p, ptr, lines);
  if (json_is_object(v)) {
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) {
      walk(p, m, rd_jsonptr_push(ptr, len, k), len, lines, depth + 1);
      ptr[at] = '\0';
    }
  } else if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++) {
      walk(p, json_array_get(v, i), rd_jsonptr_push_index(ptr, len, i), len, lines,
           depth + 1);
      ptr[at] = '\0';
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rd_jsonpos *p = NULL;
  json_error_t e;
  static char ptr[PTR_MAX];
  if (rd_jsonpos_scan((const char *)data, size, &p) != 0)
    return 0; /* out of memory */
  /* pointers the runbook checks ask for, found or not */
  int line, col;
  rd_jsonpos_key(p, "/ssh/port", &line, &col);
  rd_jsonpos_value(p, "/steps/0/params", &line, &col);
  rd_jsonpos_near(p, "/targets/3/name", 0, &line, &col);
  json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
  if (root && !memchr(data, '\0', size)) {
    ptr[0] = '\0';
    walk(p, root, ptr, sizeof ptr, line_count(data, size), 0);
  }
  json_decref(root);
  rd_jsonpos_free(p);
  return 0;
}
