# prune_restore.ps1 — rollback of windows.prune_duplicates: puts each
# removed certificate back from its .cer backup ($P.items: [{thumbprint,
# backup}]) and re-links its private key with `certutil -repairstore`.
$storePath = rdw_store ([string]$P.store)
$storeName = ([string]$P.store).Substring(([string]$P.store).IndexOf('\') + 1)
$done = @(foreach ($it in @($P.items)) {
  $t = rdw_thumb ([string]$it.thumbprint) 'certificate to restore'
  $b = [string]$it.backup
  $c = rdw_find $storePath $t
  if ($c) {
    [ordered]@{ thumbprint = $t; state = 'present'; has_key = [bool]$c.HasPrivateKey }
  } elseif (-not $b -or -not (Test-Path -LiteralPath $b)) {
    [ordered]@{ thumbprint = $t; state = 'no_backup'; has_key = $false }
  } else {
    $x = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2 (rdw_path_of $b)
    if ($x.Thumbprint -ne $t) { rd_fail "backup $b holds $($x.Thumbprint), not $t" }
    rdw_store_add_of $storeName $x
    $r = rdw_native 'certutil.exe' @('-repairstore', $storeName, $t)
    $c = rdw_find $storePath $t
    [ordered]@{ thumbprint = $t; state = 'restored'; has_key = [bool]($c -and $c.HasPrivateKey); repair_exit = $r.exit }
  }
})
rd_out ([ordered]@{ results = $done })
