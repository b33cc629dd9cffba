# new.ps1 (acme.win.new) — the new key for an ACME order on a Windows
# target, made in the machine store by `certreq -new` from an INF
# (MachineKeySet=TRUE, Exportable=FALSE, RequestType=PKCS10; the names as
# DNS SANs): certreq keeps the key pair with the pending request in
# LocalMachine\REQUEST and writes the PKCS#10 request, which is what the
# ACME CA finalizes. The key never leaves the machine store.
# https://learn.microsoft.com/windows-server/administration/windows-commands/certreq_1
# A resumed order ($P.request: the thumbprint of the earlier request) gets
# that request back while its REQUEST entry and request file are there;
# else a new one is made. Runs after lib.ps1 and adcs_lib.ps1 (the work
# directory %ProgramData%\renewd\adcs-<id>, SYSTEM and Administrators only).
$dir = rdw_workdir ([string]$P.nonce)
$req = Join-Path $dir 'acme.req'
$inf = Join-Path $dir 'acme.inf'
$reqStore = 'Cert:\LocalMachine\REQUEST'
$names = @($P.names | ForEach-Object { [string]$_ })
if ($names.Count -lt 1 -or $names.Count -gt 100) { rd_fail "names: 1 to 100 DNS names are needed, got $($names.Count)" }
foreach ($n in $names) {
  if ($n -notmatch '^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\z') { rd_fail "name '$n' is not a DNS name" }
}
switch ([string]$P.key_type) {
  'rsa' {
    if (@('2048', '3072', '4096') -notcontains [string]$P.bits) { rd_fail "key: RSA bits '$($P.bits)' is not 2048, 3072 or 4096" }
    $alg = 'RSA'; $len = [string]$P.bits; $usage = '0xa0'
  }
  'ec' {
    if ([string]$P.curve -eq 'P-256') { $alg = 'ECDSA_P256'; $len = '256' }
    elseif ([string]$P.curve -eq 'P-384') { $alg = 'ECDSA_P384'; $len = '384' }
    else { rd_fail "key: curve '$($P.curve)' is not P-256 or P-384" }
    $usage = '0x80'
  }
  default { rd_fail "key: type '$($P.key_type)' is not rsa or ec" }
}
function rdw_csr_b64([string]$Path) {
  $lines = [System.IO.File]::ReadAllLines($Path) | Where-Object { $_ -and $_ -notmatch '^-----' }
  return (($lines | ForEach-Object { $_.Trim() }) -join '')
}
$reused = $false
$thumb = ''
if ([string]$P.request) {
  $t = rdw_thumb ([string]$P.request) 'request'
  $pending = @(Get-ChildItem -Path $reqStore -ErrorAction SilentlyContinue | ForEach-Object { $_.Thumbprint })
  if (($pending -contains $t) -and (Test-Path -LiteralPath $req)) {
    $reused = $true
    $thumb = $t
  }
}
if (-not $reused) {
  $lines = [System.Collections.Generic.List[string]]::new()
  foreach ($l in @('[Version]', 'Signature="$Windows NT$"', '[NewRequest]', ('Subject="CN=' + $names[0] + '"'),
      'MachineKeySet=TRUE', 'Exportable=FALSE', 'RequestType=PKCS10', ('KeyAlgorithm=' + $alg), ('KeyLength=' + $len),
      'ProviderName="Microsoft Software Key Storage Provider"', 'HashAlgorithm=sha256', ('KeyUsage=' + $usage),
      '[Extensions]', '2.5.29.17="{text}"')) { $lines.Add($l) }
  foreach ($n in $names) { $lines.Add('_continue_="dns=' + $n + '&"') }
  [System.IO.File]::WriteAllLines($inf, $lines.ToArray(), [System.Text.Encoding]::ASCII)
  if (Test-Path -LiteralPath $req) { Remove-Item -LiteralPath $req -Force }
  $before = @(Get-ChildItem -Path $reqStore -ErrorAction SilentlyContinue | ForEach-Object { $_.Thumbprint })
  $r = rdw_native 'certreq.exe' @('-new', '-q', '-f', $inf, $req)
  $added = @(Get-ChildItem -Path $reqStore -ErrorAction SilentlyContinue | Where-Object { $before -notcontains $_.Thumbprint } | ForEach-Object { $_.Thumbprint })
  if ($r.exit -ne 0 -or -not (Test-Path -LiteralPath $req)) { rd_fail "certreq -new: exit $($r.exit): $($r.text)" }
  if ($added.Count -ne 1) { rd_fail "certreq -new: $($added.Count) new entries in the REQUEST store, expected 1" }
  $thumb = [string]$added[0]
}
rd_out ([ordered]@{ csr = (rdw_csr_b64 $req); request = $thumb; reused = $reused })
