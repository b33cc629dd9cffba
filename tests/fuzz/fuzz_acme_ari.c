/* fuzz_acme_ari.c — the ACME CA's renewalInfo answer (RFC 9773) and the
 * RFC 3339 times in it (plugins/acme/acme_ari.h): the first byte is the
 * random draw (byte / 256), the rest the answer. A success has a window
 * that ends after it starts and a moment inside it (or "now" once the
 * window is over); the explanation is one terminated line. The same bytes
 * go to acme_rfc3339 alone (sanitizers only: a time before 1970 comes back
 * negative but not -1, and acme_ari_parse refuses every negative time). */
#include <jansson.h>
#include "acme_ari.h"
#include "renewd/plugin.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const time_t now = 1750000000; /* 2025-06-15 */
  acme_ari_window w;
  if (size < 1)
    return 0;
  memset(&w, 0xa5, sizeof w);
  int rc = acme_ari_parse((const char *)data + 1, size - 1, now, data[0] / 256.0, &w);
  if (rc != 0 && rc != RD_EPROTO)
    abort();
  if (!memchr(w.explanation, '\0', sizeof w.explanation) || strchr(w.explanation, '\n'))
    abort();
  if (rc == 0) {
    if (w.end <= w.start || w.now != (w.renew_at <= now))
      abort();
    if (w.end > now && (w.renew_at < w.start || w.renew_at >= w.end))
      abort();
  }
  char *text = fz_strndup(data + 1, size - 1);
  volatile time_t t = acme_rfc3339(text);
  (void)t;
  free(text);
  return 0;
}
