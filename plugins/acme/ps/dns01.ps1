# dns01.ps1 (acme.win.dns01) — the operator's dns-01 hook on a Windows
# target: `HOOK add NAME VALUE` / `HOOK remove NAME` (no third argument:
# Windows PowerShell 5.1 drops an empty argument to a native program). A
# .ps1 hook runs in a new powershell.exe with -File. The arguments are
# checked here again (DNS name, base64url) and travel as an array, never
# as code.
$hook = [string]$P.hook
$action = [string]$P.action
$name = [string]$P.name
$value = [string]$P.value
if ($hook -notmatch '^[A-Za-z]:\\' -or $hook.Contains('..')) { rd_fail "dns hook '$hook' is not an absolute path" }
if (-not (Test-Path -LiteralPath $hook -PathType Leaf)) { rd_fail "dns hook $hook`: not a file" }
if (@('add', 'remove') -notcontains $action) { rd_fail "action '$action' is not add or remove" }
if ($name -notmatch '^_acme-challenge(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\z') { rd_fail "record '$name' is not an _acme-challenge name" }
$argv = @($action, $name)
if ($action -eq 'add') {
  if ($value -notmatch '^[A-Za-z0-9_-]{43}\z') { rd_fail "value '$value' is not a dns-01 digest" }
  $argv += $value
}
if ($hook -match '\.ps1\z') {
  $r = rdw_native 'powershell.exe' (@('-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', $hook) + $argv)
} else {
  $r = rdw_native $hook $argv
}
if ($r.exit -ne 0) {
  $t = [string]$r.text
  if ($t.Length -gt 300) { $t = $t.Substring($t.Length - 300) }
  rd_fail "dns hook $hook $action $name`: exit $($r.exit): $t"
}
rd_out ([ordered]@{ ok = $true })
