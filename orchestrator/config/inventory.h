/* inventory.h — targets, groups and per-host variables.
 *
 * An inventory file (the lab writes one; docs/RUNBOOKS.md describes it):
 *
 *   {"hosts": {"h0001": {"address": "127.10.0.2", "port": 22,
 *                         "platform": "posix", "vars": {"tls_port": 443}}},
 *    "groups": {"all": ["h0001"], "tls": ["h0001"]}}
 *
 * Every host entry key is optional: address defaults to the name, port to the
 * runbook's ssh.port (0 here means "not set"), platform to "posix", vars to {}.
 * A group named "all" exists even when the file does not define it (every
 * host, in file order). */
#ifndef RENEWD_INVENTORY_H
#define RENEWD_INVENTORY_H
#include <stddef.h>
#include <jansson.h>

#include "config/jsonpos.h"
#include "config/runbook.h"

typedef struct rd_inv_group {
  char *name;
  char **members; /* host names, in file order */
  size_t n;
} rd_inv_group;

typedef struct rd_inventory {
  char *path;
  rd_target *hosts; /* in file order; port 0 when the file does not set it */
  size_t nhosts;
  rd_inv_group *groups; /* in file order; "all" appended when missing */
  size_t ngroups;
  json_t *index;        /* host name -> index into hosts (for lookups) */
} rd_inventory;

/* Load and check an inventory file. When the file cannot be read, returns
 * RD_ENOTFOUND or RD_EIO with a sentence in err and diag untouched (the caller
 * says where the file was named). Syntax and content errors go into diag with
 * the inventory's own file:line:column, and the result is RD_ECONFIG. */
int rd_inventory_load(const char *path, rd_inventory **out, rd_diag *diag, char *err,
                      size_t errlen);
void rd_inventory_free(rd_inventory *inv); /* NULL ok */
const rd_inv_group *rd_inventory_group(const rd_inventory *inv, const char *name);
const rd_target *rd_inventory_host(const rd_inventory *inv, const char *name);
/* "all, tls" into buf (for "unknown group" messages). */
char *rd_inventory_group_list(const rd_inventory *inv, char *buf, size_t len);

/* Parse one host entry (an object at ptr) into t. inline_entry: a runbook's
 * targets.hosts item, which carries its own "name"; otherwise name is the
 * inventory key. Problems are reported through c; returns 0 or RD_ECONFIG
 * (t is then cleared). */
int rd_target_parse(rd_jctx *c, const json_t *obj, const char *ptr, const char *name,
                    int inline_entry, rd_target *t);
/* Host names: letters, digits, '.', '_', '-' (they name journal rows). */
int rd_target_name_ok(const char *name);
int rd_target_copy(rd_target *dst, const rd_target *src);
void rd_target_clear(rd_target *t); /* frees members; NULL ok */
void rd_targets_free(rd_target *t, size_t n);
const char *rd_platform_name(rd_platform p); /* "posix", "windows", "any" */

#endif
