# store_list.ps1 — the certificates of a store (all, or those named in
# $P.thumbprints, sent only when there are some): {store, certs:
# [rdw_certinfo...]}, each with what uses it (rdw_usage). Read-only;
# strict-mode clean (no absent property read).
$storePath = rdw_store ([string]$P.store)
$want = @()
if ($P.PSObject.Properties['thumbprints'] -and $P.thumbprints) { $want = @(foreach ($t in @($P.thumbprints)) { rdw_thumb ([string]$t) 'thumbprint' }) }
$certs = @(Get-ChildItem -Path $storePath | Where-Object { $_ -is [System.Security.Cryptography.X509Certificates.X509Certificate2] })
if ($want.Count -gt 0) { $certs = @($certs | Where-Object { $want -contains $_.Thumbprint }) }
$usage = rdw_usage
$list = @(foreach ($c in $certs) { rdw_certinfo $c $usage })
rd_out ([ordered]@{ store = [string]$P.store; certs = $list })
