# certreq.ps1 — the emulated machine's certreq.exe (contrib/lab/winhost puts
# a certreq.exe on the machine's PATH that runs this with renewd-pshost;
# RenewdWindows.psm1 is loaded). Only what renewd runs, as the certreq
# reference describes it
# (https://learn.microsoft.com/windows-server/administration/windows-commands/certreq_1):
#   certreq -new [-q] [-f] <inf> <req>        the RenewalCert INF of KB2712186
#   certreq -submit [-q] [-f] -config <CA> <req> <cer>
#   certreq -retrieve [-q] [-f] -config <CA> <RequestId> <cer>
#   certreq -accept -machine [-q] <cer>
# Output lines are the ones renewd's fixtures hold
# (tests/fixtures/windows/certreq-*.txt); the exit status is 0 for a
# disposition (issued, pending, denied) and 1 for an error (certreq exits
# with the HRESULT, which a Linux process cannot: only "not 0" is kept).
#
# The CA behind -config is the lab's (RENEWD_WIN_CA, outside the machine:
# contrib/lab/winhost copies the lab CA there): config holds the
# configuration it answers as ("ca01.corp.example\Corp Issuing CA"),
# ca.pem/ca.key its certificate and key, disposition what it does with the
# next request or retrieval ("issue", "pend" or "deny", a test writes it;
# absent: issue), requests/<id>.req and <id>.cer what it received and
# issued, log one line per submission or retrieval ("<id> submit|retrieve <disposition text>"). The CA is reached over
# RPC with the caller's network credentials: only the machine account
# (a task running as SYSTEM, RENEWD_WIN_SYSTEM=1) has them; from an SSH
# key logon it is the double hop, 0x800706ba
# (https://learn.microsoft.com/powershell/scripting/security/remoting/ps-remoting-second-hop).
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$argv = @($args | ForEach-Object { [string]$_ })

function Out-Fail([string]$Text) { [Console]::Out.WriteLine($Text); exit 1 }
# the I-th positional argument
function Get-Arg([int]$I) { if ($I -ge $pos.Count) { Out-Fail 'CertReq: Too few arguments. 0x80070057 (WIN32: 87 ERROR_INVALID_PARAMETER)' }; return $pos[$I] }
function Get-Path([string]$P) { return ConvertFrom-RenewdWindowsPath $P }
$rpcDown = 'Certificate Request Processor: The RPC server is unavailable. 0x800706ba (WIN32: 1722 RPC_S_SERVER_UNAVAILABLE)'
$notFound = 'Certificate Request Processor: Cannot find object or property. 0x80092004 (-2146885628 CRYPT_E_NOT_FOUND)'

# the verb, the switches, the positional arguments
$verb = $null; $config = $null; $machine = $false; $force = $false; $pos = @()
for ($i = 0; $i -lt $argv.Count; $i++) {
  $a = $argv[$i]
  if (@('-new', '-submit', '-retrieve', '-accept') -contains $a) { $verb = $a.Substring(1) }
  elseif ($a -eq '-config' -and $i + 1 -lt $argv.Count) { $i++; $config = $argv[$i] }
  elseif ($a -eq '-machine') { $machine = $true }
  elseif ($a -eq '-f') { $force = $true }
  elseif ($a -eq '-q') { }
  elseif ($a.StartsWith('-')) { Out-Fail "CertReq: Unknown option: $a 0x80070057 (WIN32: 87 ERROR_INVALID_PARAMETER)" }
  else { $pos += $a }
}

function Write-Output-File([string]$Path, [string]$Text) {
  $f = Get-Path $Path
  if ([System.IO.File]::Exists($f) -and -not $force) { Out-Fail "CertReq: $Path already exists. 0x80070050 (WIN32: 80 ERROR_FILE_EXISTS)" }
  [System.IO.File]::WriteAllText($f, $Text)
}

function ConvertTo-Pem([string]$Label, [byte[]]$Der) {
  return "-----BEGIN $Label-----`r`n" + [System.Convert]::ToBase64String($Der, [System.Base64FormattingOptions]::InsertLineBreaks) + "`r`n-----END $Label-----`r`n"
}

function Read-Der([string]$Path) {
  $t = [System.IO.File]::ReadAllText((Get-Path $Path))
  # (the comma keeps the byte[] one object: a returned array is unrolled)
  if ($t -match '-----BEGIN [A-Z ]+-----([^-]+)-----END') { return , [System.Convert]::FromBase64String(($Matches[1] -replace '\s', '')) }
  return , [System.IO.File]::ReadAllBytes((Get-Path $Path))
}

# -new: the new key pair is made by the basis certificate's provider (same
# algorithm and size), its container a new GUID; certreq keeps it in the
# REQUEST store as a self-signed placeholder certificate until -accept. The
# request is the PKCS#10 of the new key (the basis's subject) in a CMS
# signed with the basis certificate's key (KB2712186's RenewalCert).
function Invoke-New {
  $inf = [System.IO.File]::ReadAllText((Get-Path (Get-Arg 0)))
  if ($inf -notmatch '(?m)^RenewalCert="?([0-9A-Fa-f]{40})"?\s*$') { Out-Fail 'CertReq: only RenewalCert INF files are emulated' }
  $thumb = $Matches[1].ToUpperInvariant()
  if ($inf -notmatch '(?mi)^MachineKeySet=TRUE\s*$') { Out-Fail "$notFound`r`nRenewalCert=`"$thumb`"" }
  $my = (Get-RenewdCertStoreDir 'Cert:\LocalMachine\My').Dir
  if (-not [System.IO.File]::Exists([System.IO.Path]::Combine($my, "$thumb.cer"))) { Out-Fail "$notFound`r`nRenewalCert=`"$thumb`"" }
  $basis = Get-RenewdEmuCert $my $thumb
  if (-not $basis.HasPrivateKey) { Out-Fail "Certificate Request Processor: Keyset does not exist 0x80090016 (-2146893802 NTE_BAD_KEYSET)`r`nRenewalCert=`"$thumb`"" }
  $prov = Read-RenewdKeyProv ([System.IO.Path]::Combine($my, "$thumb.keyprov"))
  $ec = $basis.PublicKey.Oid.Value -eq '1.2.840.10045.2.1'
  $hash = [System.Security.Cryptography.HashAlgorithmName]::SHA256
  if ($ec) {
    $key = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions]::GetECDsaPublicKey($basis).ExportParameters($false).Curve)
    $req = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new($basis.SubjectName, $key, $hash)
  } else {
    $key = [System.Security.Cryptography.RSA]::Create([System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPublicKey($basis).ExportParameters($false).Modulus.Length * 8)
    $req = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new($basis.SubjectName, $key, $hash, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
  }
  $cms = [System.Security.Cryptography.Pkcs.SignedCms]::new([System.Security.Cryptography.Pkcs.ContentInfo]::new($req.CreateSigningRequest()), $false)
  $cms.ComputeSignature([System.Security.Cryptography.Pkcs.CmsSigner]::new($basis))
  $container = '{' + [guid]::NewGuid().ToString().ToUpperInvariant() + '}'
  $rel = Write-RenewdKeyFile $key $container $prov.Provider $prov.Type $prov.KeySpec
  $now = [DateTimeOffset]::UtcNow
  $stub = $req.CreateSelfSigned($now.AddMinutes(-5), $now.AddYears(1))
  $rq = (Get-RenewdCertStoreDir 'Cert:\LocalMachine\REQUEST').Dir
  [System.IO.File]::WriteAllBytes([System.IO.Path]::Combine($rq, $stub.Thumbprint + '.cer'), $stub.RawData)
  Write-RenewdKeyProv ([System.IO.Path]::Combine($rq, $stub.Thumbprint + '.keyprov')) $container $prov.Provider $prov.Type $prov.KeySpec $rel
  Write-Output-File (Get-Arg 1) (ConvertTo-Pem 'NEW CERTIFICATE REQUEST' $cms.Encode())
  [Console]::Out.WriteLine('CertReq: Request Created')
}

# ---------------------------------------------------------------- the CA
function Get-Ca {
  if ($env:RENEWD_WIN_SYSTEM -ne '1') { Out-Fail $rpcDown }
  $d = $env:RENEWD_WIN_CA
  if (-not $d -or -not [System.IO.File]::Exists([System.IO.Path]::Combine($d, 'config')) -or
    -not [string]::Equals([System.IO.File]::ReadAllText([System.IO.Path]::Combine($d, 'config')).Trim(), $config, [System.StringComparison]::OrdinalIgnoreCase)) {
    Out-Fail $rpcDown
  }
  [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::Combine($d, 'requests'))
  return $d
}

function Get-CaDisposition([string]$Ca) {
  $f = [System.IO.Path]::Combine($Ca, 'disposition')
  if (-not [System.IO.File]::Exists($f)) { return 'issue' }
  return [System.IO.File]::ReadAllText($f).Trim()
}

function Write-CaLog([string]$Ca, [string]$Line) { [System.IO.File]::AppendAllText([System.IO.Path]::Combine($Ca, 'log'), "$Line`n") }

# The CA's decision on request $Id (its CMS in requests/<id>.req): the
# signer (the basis certificate) must chain to the CA and be valid now —
# an expired basis is denied with CERT_E_EXPIRED, as the field report
# says; then the disposition file decides. Issued: the PKCS#10's key and
# subject, the basis's extensions (its template among them: a renewal
# keeps the template), the basis's lifetime from now, signed by the CA.
function Invoke-CaDecide([string]$Ca, [string]$Id) {
  $cms = [System.Security.Cryptography.Pkcs.SignedCms]::new()
  $cms.Decode([System.IO.File]::ReadAllBytes([System.IO.Path]::Combine($Ca, 'requests', "$Id.req")))
  $cms.CheckSignature($true)
  $signer = $cms.SignerInfos[0].Certificate
  $caCert = [System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPemFile([System.IO.Path]::Combine($Ca, 'ca.pem'), [System.IO.Path]::Combine($Ca, 'ca.key'))
  $chain = [System.Security.Cryptography.X509Certificates.X509Chain]::new()
  $chain.ChainPolicy.RevocationMode = 'NoCheck'
  $chain.ChainPolicy.TrustMode = 'CustomRootTrust'
  [void]$chain.ChainPolicy.CustomTrustStore.Add($caCert)
  $okChain = $chain.Build($signer)
  $now = [DateTime]::Now
  if ($signer.NotAfter -lt $now -or $signer.NotBefore -gt $now) {
    return "Certificate not issued (Denied) Denied by Policy Module  0x800b0101, The certificate is not within its validity period when verifying against the current system clock or the timestamp in the signed file."
  }
  if (-not $okChain) { return 'Certificate not issued (Denied) Denied by Policy Module  0x800b0109, A certificate chain processed, but terminated in a root certificate which is not trusted by the trust provider.' }
  $disp = Get-CaDisposition $Ca
  if ($disp -eq 'pend') { return 'Certificate request is pending: Taken Under Submission (0)' }
  if ($disp -ne 'issue') {
    return 'Certificate not issued (Denied) Denied by Policy Module  0x80094012, The permissions on the certificate template do not allow the current user to enroll for this type of certificate.'
  }
  $hash = [System.Security.Cryptography.HashAlgorithmName]::SHA256
  $req = [System.Security.Cryptography.X509Certificates.CertificateRequest]::LoadSigningRequest($cms.ContentInfo.Content, $hash,
    [System.Security.Cryptography.X509Certificates.CertificateRequestLoadOptions]::Default, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
  foreach ($x in $signer.Extensions) {
    if (@('2.5.29.14', '2.5.29.35') -notcontains $x.Oid.Value) { $req.CertificateExtensions.Add($x) }
  }
  $req.CertificateExtensions.Add([System.Security.Cryptography.X509Certificates.X509SubjectKeyIdentifierExtension]::new($req.PublicKey, $false))
  $req.CertificateExtensions.Add([System.Security.Cryptography.X509Certificates.X509AuthorityKeyIdentifierExtension]::CreateFromCertificate($caCert, $true, $false))
  # from now for the basis's lifetime, so that the new certificate is
  # issued after the one it renews and outlives it. (AD CS backdates
  # NotBefore by its clock skew setting; not done here: a test renews a
  # basis minutes after issuing it.)
  $from = [DateTimeOffset]::UtcNow
  if ($from -lt [DateTimeOffset]$caCert.NotBefore) { $from = [DateTimeOffset]$caCert.NotBefore }
  $to = $from + ($signer.NotAfter - $signer.NotBefore)
  if ($to -gt [DateTimeOffset]$caCert.NotAfter) { $to = [DateTimeOffset]$caCert.NotAfter }
  $serial = [byte[]]::new(16)
  [System.Security.Cryptography.RandomNumberGenerator]::Fill($serial)
  $serial[0] = $serial[0] -band 0x7f
  $cert = $req.Create($caCert, $from, $to, $serial)
  [System.IO.File]::WriteAllBytes([System.IO.Path]::Combine($Ca, 'requests', "$Id.cer"), $cert.RawData)
  return 'Certificate retrieved(Issued) Issued'
}

function Complete-Ca([string]$Ca, [string]$Id, [string]$Verb, [bool]$ShowId) {
  $text = Invoke-CaDecide $Ca $Id
  Write-CaLog $Ca "$Id $Verb $text"
  if ($ShowId) { [Console]::Out.WriteLine("RequestId: $Id`r`nRequestId: `"$Id`"") }
  [Console]::Out.WriteLine($text)
  $cer = [System.IO.Path]::Combine($Ca, 'requests', "$Id.cer")
  if ($text.StartsWith('Certificate retrieved')) { Write-Output-File $pos[$pos.Count - 1] (ConvertTo-Pem 'CERTIFICATE' ([System.IO.File]::ReadAllBytes($cer))) }
}

function Invoke-Submit {
  $ca = Get-Ca
  $der = Read-Der (Get-Arg 0)
  [void](Get-Arg 1)
  $f = [System.IO.Path]::Combine($ca, 'next_id')
  $id = $(if ([System.IO.File]::Exists($f)) { [int][System.IO.File]::ReadAllText($f) } else { 2 })
  [System.IO.File]::WriteAllText($f, [string]($id + 1))
  [System.IO.File]::WriteAllBytes([System.IO.Path]::Combine($ca, 'requests', "$id.req"), $der)
  Complete-Ca $ca ([string]$id) 'submit' $true
}

function Invoke-Retrieve {
  $ca = Get-Ca
  $id = Get-Arg 0
  [void](Get-Arg 1)
  if ($id -notmatch '^[0-9]+\z' -or -not [System.IO.File]::Exists([System.IO.Path]::Combine($ca, 'requests', "$id.req"))) {
    Out-Fail 'Certificate Request Processor: The parameter is incorrect. 0x80070057 (WIN32: 87 ERROR_INVALID_PARAMETER)'
  }
  Complete-Ca $ca $id 'retrieve' $false
}

# -accept -machine: the issued certificate goes into LocalMachine\My,
# linked to the key of the REQUEST store entry with the same public key,
# and that entry leaves the REQUEST store (the key stays)
function Invoke-Accept {
  if (-not $machine) { Out-Fail 'CertReq: only -accept -machine is emulated' }
  $x = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new((Read-Der (Get-Arg 0)))
  $rq = (Get-RenewdCertStoreDir 'Cert:\LocalMachine\REQUEST').Dir
  $my = (Get-RenewdCertStoreDir 'Cert:\LocalMachine\My').Dir
  $pub = [System.Convert]::ToBase64String($x.PublicKey.EncodedKeyValue.RawData)
  foreach ($f in [System.IO.Directory]::GetFiles($rq, '*.cer')) {
    $t = [System.IO.Path]::GetFileNameWithoutExtension($f)
    $r = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([System.IO.File]::ReadAllBytes($f))
    if ([System.Convert]::ToBase64String($r.PublicKey.EncodedKeyValue.RawData) -ne $pub) { continue }
    [System.IO.File]::WriteAllBytes([System.IO.Path]::Combine($my, $x.Thumbprint + '.cer'), $x.RawData)
    [System.IO.File]::Copy([System.IO.Path]::Combine($rq, "$t.keyprov"), [System.IO.Path]::Combine($my, $x.Thumbprint + '.keyprov'), $true)
    [System.IO.File]::Delete([System.IO.Path]::Combine($rq, "$t.keyprov"))
    [System.IO.File]::Delete($f)
    [Console]::Out.WriteLine("Installed Certificate:`r`n  Serial Number: $($x.SerialNumber)`r`n  Subject: $($x.Subject)`r`n  Thumbprint: $($x.Thumbprint)")
    return
  }
  Out-Fail $notFound
}

switch ($verb) {
  'new' { Invoke-New }
  'submit' { Invoke-Submit }
  'retrieve' { Invoke-Retrieve }
  'accept' { Invoke-Accept }
  default { Out-Fail 'CertReq: only -new, -submit, -retrieve and -accept are emulated' }
}
exit 0
