# adcs_new.ps1 — writes the five-line RenewalCert INF into the work
# directory and runs `certreq -new -q -f renewal.inf renewal.req`. The new
# key pair waits in the machine's REQUEST store until -accept; the entries
# that appeared there are reported so that a rollback can remove them.
$old = rdw_thumb ([string]$P.thumbprint) 'RenewalCert'
$storePath = rdw_store ([string]$P.store)
$dir = rdw_workdir ([string]$P.nonce)
$c = rdw_find $storePath $old
if (-not $c) { rd_fail "certificate $old is not in $($P.store)" }
if (-not $c.HasPrivateKey) { rd_fail "certificate $old has no private key: certreq cannot sign a RenewalCert request with it" }
$inf = Join-Path $dir 'renewal.inf'
$req = Join-Path $dir 'renewal.req'
$lines = [string[]]@('[Version]', 'Signature="$Windows NT$"', '[NewRequest]', ('RenewalCert="' + $old + '"'), 'MachineKeySet=TRUE')
[System.IO.File]::WriteAllLines((rdw_path_of $inf), $lines, [System.Text.Encoding]::ASCII)
$reqStore = 'Cert:\LocalMachine\REQUEST'
$before = @(Get-ChildItem -Path $reqStore -ErrorAction SilentlyContinue | ForEach-Object { $_.Thumbprint })
$r = rdw_native 'certreq.exe' @('-new', '-q', '-f', $inf, $req)
$added = @(Get-ChildItem -Path $reqStore -ErrorAction SilentlyContinue | Where-Object { $before -notcontains $_.Thumbprint } | ForEach-Object { $_.Thumbprint })
rd_out ([ordered]@{ exit = $r.exit; text = $r.text; req = [bool](Test-Path -LiteralPath $req); request_thumbprints = $added })
