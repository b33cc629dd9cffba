/* util.c — see util.h. */
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/err.h"

size_t rd_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  size_t *row = malloc((lb + 1) * sizeof *row), d;
  if (!row)
    return (size_t)-1;
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cur = row[j];
      size_t sub = prev + (a[i - 1] != b[j - 1]);
      size_t del = row[j] + 1, ins = row[j - 1] + 1;
      row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
      prev = cur;
    }
  }
  d = row[lb];
  free(row);
  return d;
}

char *rd_base64_encode(const void *data, size_t len, size_t *outlen) {
  size_t n = 4 * ((len + 2) / 3);
  char *out = malloc(n + 1);
  if (!out)
    return NULL;
  if (len > 0x3fffffff) {
    free(out);
    return NULL;
  }
  int w = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
  out[w] = '\0';
  if (outlen)
    *outlen = (size_t)w;
  return out;
}

int rd_base64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen) {
  unsigned char *buf;
  int n;
  size_t pad = 0;
  if (len % 4 || len > 0x3fffffff)
    return RD_EPROTO;
  if (!(buf = malloc(len / 4 * 3 + 1)))
    return RD_ENOMEM;
  n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
  if (n < 0) {
    free(buf);
    return RD_EPROTO;
  }
  if (len >= 1 && s[len - 1] == '=')
    pad++;
  if (len >= 2 && s[len - 2] == '=')
    pad++;
  *outlen = (size_t)n - pad;
  buf[*outlen] = 0;
  *out = buf;
  return 0;
}

char *rd_base64_encode_str(const void *data, size_t len) {
  return rd_base64_encode(data, len, NULL);
}

int rd_base64_decode_str(const char *text, unsigned char **out, size_t *outlen) {
  return text ? rd_base64_decode(text, strlen(text), out, outlen) : RD_EINVAL;
}

int rd_read_file(const char *path, size_t max, char **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  char *buf = NULL;
  size_t n = 0;
  if (fd < 0)
    return errno == ENOENT ? RD_ENOTFOUND : RD_EIO;
  if (fstat(fd, &st) || (size_t)st.st_size > max || !(buf = malloc((size_t)st.st_size + 1))) {
    int big = fstat(fd, &st) == 0 && (size_t)st.st_size > max;
    close(fd);
    return big ? RD_EOVERFLOW : RD_ENOMEM;
  }
  while (n < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  *out = buf;
  if (len)
    *len = n;
  return 0;
}

uint64_t rd_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *rd_utf16le_to_utf8(const unsigned char *u, size_t n, size_t *outlen) {
  char *t = malloc(n * 2 + 1);
  size_t j = 0;
  if (!t)
    return NULL;
  for (size_t i = 0; i + 1 < n; i += 2) {
    uint32_t cp = (uint32_t)u[i] | (uint32_t)u[i + 1] << 8;
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 3 < n) {
      uint32_t lo = (uint32_t)u[i + 2] | (uint32_t)u[i + 3] << 8;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      i += 2;
    }
    if (cp < 0x80) {
      t[j++] = (char)cp;
    } else if (cp < 0x800) {
      t[j++] = (char)(0xC0 | cp >> 6);
      t[j++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      t[j++] = (char)(0xE0 | cp >> 12);
      t[j++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      t[j++] = (char)(0x80 | (cp & 0x3F));
    } else {
      t[j++] = (char)(0xF0 | cp >> 18);
      t[j++] = (char)(0x80 | ((cp >> 12) & 0x3F));
      t[j++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      t[j++] = (char)(0x80 | (cp & 0x3F));
    }
  }
  t[j] = 0;
  if (outlen)
    *outlen = j;
  return t;
}

/* Length of the valid UTF-8 sequence at p (2..4), 0 if it is not one;
 * *cp gets its code point. */
static size_t utf8_seq(const unsigned char *p, uint32_t *cp) {
  size_t n;
  uint32_t c, min;
  if (p[0] >= 0xC2 && p[0] <= 0xDF)
    n = 2, c = p[0] & 0x1Fu, min = 0x80;
  else if (p[0] >= 0xE0 && p[0] <= 0xEF)
    n = 3, c = p[0] & 0x0Fu, min = 0x800;
  else if (p[0] >= 0xF0 && p[0] <= 0xF4)
    n = 4, c = p[0] & 0x07u, min = 0x10000;
  else
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80) /* also stops at the NUL */
      return 0;
    c = c << 6 | (p[i] & 0x3Fu);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
    return 0;
  *cp = c;
  return n;
}

static int shown_raw(uint32_t cp) {
  return !(cp >= 0x80 && cp <= 0x9F) && !(cp >= 0x202A && cp <= 0x202E) &&
         !(cp >= 0x2066 && cp <= 0x2069);
}

/* One pass for both: out NULL counts the bytes needed. */
static size_t escape_into(char *out, size_t outlen, const char *in, unsigned flags) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)(in ? in : "");
  size_t o = 0;
  while (*p) {
    uint32_t cp = 0;
    size_t n = *p >= 0x80 ? utf8_seq(p, &cp) : 1, esc = 0;
    if (*p < 0x80) {
      if ((*p == '\n' || *p == '\t') && (flags & RD_ESC_ONE_LINE)) {
        if (out && o + 1 >= outlen)
          break;
        if (out)
          out[o] = ' ';
        o++;
        p++;
        continue;
      }
      esc = *p < 0x20 || *p == 0x7f;
    } else if (!n) {
      n = 1, esc = 1;
    } else {
      esc = !shown_raw(cp);
    }
    if (esc) { /* every byte of it as \xNN */
      if (out && o + 4 * n >= outlen)
        break;
      for (size_t i = 0; i < n; i++, o += 4)
        if (out) {
          out[o] = '\\';
          out[o + 1] = 'x';
          out[o + 2] = hex[p[i] >> 4];
          out[o + 3] = hex[p[i] & 0xF];
        }
    } else {
      if (out && o + n >= outlen)
        break;
      if (out)
        memcpy(out + o, p, n);
      o += n;
    }
    p += n;
  }
  if (out && outlen)
    out[o] = '\0';
  return o;
}

size_t rd_escape(char *out, size_t outlen, const char *in, unsigned flags) {
  if (!out || !outlen)
    return 0;
  return escape_into(out, outlen, in, flags);
}

char *rd_escape_dup(const char *in, unsigned flags) {
  size_t n = escape_into(NULL, 0, in, flags);
  char *out = malloc(n + 1);
  if (out)
    escape_into(out, n + 1, in, flags);
  return out;
}
