# prune_apply.ps1 — removes superseded certificates ($P.remove) from the
# store. Refuses everything unless the new certificate ($P.new) is there
# with its private key; refuses any that is the new one or expires after
# it or that something serves (rdw_usage: HTTP.sys bindings, RDP). Each one's DER is first written to $P.backup_dir\<thumbprint>.cer
# (the certificate only; the private key stays where it is, because
# Remove-Item without -DeleteKey leaves it, and a rollback re-links it).
$storePath = rdw_store ([string]$P.store)
$new = rdw_thumb ([string]$P.new) 'new certificate'
$bdir = [string]$P.backup_dir
if ($bdir -notmatch '^[A-Za-z]:\\[^"*?<>|\r\n]*\z' -or $bdir.Contains('..')) { rd_fail "backup directory '$bdir' is not an absolute local path" }
$n = rdw_find $storePath $new
if (-not $n -or -not $n.HasPrivateKey) { rd_fail "the new certificate $new is not in $($P.store) with its private key: nothing was removed" }
$usage = rdw_usage
$todo = @()
foreach ($t in @($P.remove)) {
  $t = rdw_thumb ([string]$t) 'certificate to remove'
  if ($t -eq $new) { rd_fail "refusing to remove the new certificate $new" }
  $c = rdw_find $storePath $t
  if ($c -and $c.NotAfter -gt $n.NotAfter) { rd_fail "refusing to remove $t`: it expires after the new certificate $new" }
  if ($usage.ContainsKey($t)) { rd_fail "refusing to remove $t`: it is in use ($(@($usage[$t]) -join ', ')): nothing was removed" }
  $todo += , @($t, $c)
}
if (-not (Test-Path -LiteralPath $bdir)) { [void](New-Item -ItemType Directory -Path $bdir) }
$done = @(foreach ($pair in $todo) {
  $t = $pair[0]
  $c = $pair[1]
  if (-not $c) {
    [ordered]@{ thumbprint = $t; state = 'absent'; backup = $null }
  } else {
    $b = Join-Path $bdir ($t + '.cer')
    [System.IO.File]::WriteAllBytes((rdw_path_of $b), $c.RawData)
    Remove-Item -LiteralPath ($storePath + '\' + $t)
    [ordered]@{ thumbprint = $t; state = 'removed'; backup = $b }
  }
})
rd_out ([ordered]@{ results = $done })
