# install_remove.ps1 — rollback of windows.install: removes the new
# certificate and its private key (-DeleteKey), but only while the old
# certificate is still in the store. {state: removed|absent|old_missing}.
$storePath = rdw_store ([string]$P.store)
$new = rdw_thumb ([string]$P.new) 'new certificate'
$old = rdw_thumb ([string]$P.old) 'old certificate'
if ($new -eq $old) { rd_fail "the new and the old certificate are the same ($new)" }
$state = 'removed'
if (-not (rdw_find $storePath $new)) {
  $state = 'absent'
} elseif (-not (rdw_find $storePath $old)) {
  $state = 'old_missing'
} else {
  Remove-Item -LiteralPath ($storePath + '\' + $new) -DeleteKey
}
rd_out ([ordered]@{ state = $state })
