/* fuzz_certreq.c — the parsers of what certreq and certutil print on a
 * Windows target (plugins/windows/windows_certreq.h): the first byte picks
 * adcs_parse_certreq (0), adcs_parse_configs (1) or adcs_parse_new (2, its
 * exit code and "request written" from the byte's upper bits), the rest is
 * the output. The outcome's status is one of the enum's, its message and
 * HRESULT are terminated inside their buffers, the configurations are an
 * array of non-empty strings, and a failed certreq -new says why. */
#include <jansson.h>
#include "windows_certreq.h"
#include "fuzz_util.h"

static void check_text(const char *s, size_t size) {
  if (!memchr(s, '\0', size))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  char *text = fz_strndup(data + 1, size - 1);
  switch (data[0] % 3) {
  case 0: {
    adcs_outcome o;
    memset(&o, 0xa5, sizeof o);
    adcs_parse_certreq(text, &o);
    if (o.status < ADCS_UNKNOWN || o.status > ADCS_FAILED || o.request_id < -1 ||
        !adcs_status_name(o.status))
      abort();
    check_text(o.message, sizeof o.message);
    check_text(o.hresult, sizeof o.hresult);
    break;
  }
  case 1: {
    json_t *configs = adcs_parse_configs(text), *v;
    size_t i;
    if (!json_is_array(configs))
      abort();
    json_array_foreach(configs, i, v) {
      if (!json_is_string(v) || !json_string_length(v))
        abort();
    }
    json_decref(configs);
    break;
  }
  default: {
    char msg[300];
    memset(msg, 0xa5, sizeof msg);
    int rc = adcs_parse_new((data[0] >> 2) & 3, (data[0] >> 4) & 1, text, msg, sizeof msg);
    if (rc != 0) { /* msg is only written on a failure */
      check_text(msg, sizeof msg);
      if (!msg[0])
        abort();
    }
    break;
  }
  }
  free(text);
  return 0;
}
