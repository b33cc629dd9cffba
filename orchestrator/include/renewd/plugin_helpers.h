/*
 * renewd/plugin_helpers.h — header-only helpers every plugin shares, so that
 * step kinds check parameters and report findings the same way without
 * copying code between plugins. Only renewd/plugin.h (and jansson) needed.
 * (validate() runs at load time with no host API, hence a header, not the
 * host API table.)
 */
#ifndef RENEWD_PLUGIN_HELPERS_H
#define RENEWD_PLUGIN_HELPERS_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "renewd/plugin.h"

/* params must be an object whose keys are all in allowed (NULL-terminated;
 * NULL: the kind takes no parameters). On error one sentence in err:
 * `type: unknown parameter "x" (expected "a", "b")`. */
static inline int rd_check_keys(const json_t *params, const char *type,
                                const char *const *allowed, char *err, size_t errlen) {
  const char *k;
  const json_t *v;
  if (params && !json_is_object(params)) {
    snprintf(err, errlen, "%s: params must be an object", type);
    return RD_EINVAL;
  }
  json_object_foreach((json_t *)params, k, v) {
    size_t i;
    (void)v;
    for (i = 0; allowed && allowed[i] && strcmp(allowed[i], k); i++)
      ;
    if (!allowed || !allowed[i]) {
      char list[256] = "";
      for (i = 0; allowed && allowed[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "",
                 allowed[i]);
      if (*list)
        snprintf(err, errlen, "%s: unknown parameter \"%s\" (expected %s)", type, k, list);
      else
        snprintf(err, errlen, "%s: takes no parameters, but \"%s\" was given", type, k);
      return RD_EINVAL;
    }
  }
  return 0;
}

/* facts.problems (an array, created if missing) without the findings an
 * earlier run of step kind `type` left there: a re-probe replaces them. */
static inline json_t *rd_problems_reset(json_t *facts, const char *type) {
  json_t *p = json_object_get(facts, "problems");
  size_t i;
  if (!json_is_array(p)) {
    p = json_array();
    json_object_set_new(facts, "problems", p);
  }
  for (i = json_array_size(p); i-- > 0;) {
    const char *step = json_string_value(json_object_get(json_array_get(p, i), "step"));
    if (step && !strcmp(step, type))
      json_array_remove(p, i);
  }
  return p;
}

/* Append one finding {"what", "detail", "step"} to problems. */
static inline void rd_problem(json_t *problems, const char *type, const char *what,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static inline void rd_problem(json_t *problems, const char *type, const char *what,
                              const char *fmt, ...) {
  char detail[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  json_array_append_new(problems,
                        json_pack("{s:s, s:s, s:s}", "what", what, "detail", detail, "step", type));
}

#endif /* RENEWD_PLUGIN_HELPERS_H */
