# service_lib.ps1 — the service windows.service acts on: $P.service, or
# W3SVC for "iisreset".
function rdw_service_name() {
  if ($P.action -eq 'iisreset') { return 'W3SVC' }
  $n = [string]$P.service
  if ($n -notmatch '^[A-Za-z0-9_.$ -]{1,256}\z') { rd_fail "service name '$n' is not valid" }
  return $n
}
