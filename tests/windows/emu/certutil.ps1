# certutil.ps1 — the emulated machine's certutil.exe (contrib/lab/winhost
# puts a certutil.exe on the machine's PATH that runs this with
# renewd-pshost; RenewdWindows.psm1 is loaded). The two verbs renewd runs
# (https://learn.microsoft.com/windows-server/administration/windows-commands/certutil):
#   certutil -repairstore <store> <thumbprint>   links a certificate of
#     LocalMachine\<store> to the machine key file holding its public key
#     (the container's properties are read back from the key file)
#   certutil -dump    the enterprise CA configurations: the one the lab CA
#     answers as (RENEWD_WIN_CA/config, see certreq.ps1), in the shape of
#     tests/fixtures/windows/certutil-dump-one.txt; reaching it needs the
#     machine account's network credentials, as certreq's RPC does
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$argv = @($args | ForEach-Object { [string]$_ })
function Out-Fail([string]$Text) { [Console]::Out.WriteLine($Text); exit 1 }

function Invoke-RepairStore([string]$Store, [string]$Thumb) {
  $s = Get-RenewdCertStoreDir "Cert:\LocalMachine\$Store"
  $cer = $(if ($s -and $Thumb -match '^[0-9A-Fa-f]{40}\z') { [System.IO.Path]::Combine($s.Dir, $Thumb.ToUpperInvariant() + '.cer') } else { '' })
  if (-not $cer -or -not [System.IO.File]::Exists($cer)) {
    Out-Fail "CertUtil: -repairstore command FAILED: 0x80092004 (-2146885628 CRYPT_E_NOT_FOUND)`r`nCertUtil: Cannot find object or property."
  }
  $x = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([System.IO.File]::ReadAllBytes($cer))
  $crypto = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'c', 'ProgramData', 'Microsoft', 'Crypto')
  foreach ($d in 'RSA\MachineKeys', 'DSS\MachineKeys', 'Keys') {
    $dir = [System.IO.Path]::Combine($crypto, ($d -replace '\\', '/'))
    if (-not [System.IO.Directory]::Exists($dir)) { continue }
    foreach ($f in [System.IO.Directory]::GetFiles($dir)) {
      $text = [System.IO.File]::ReadAllText($f)
      $key = $(if ($x.PublicKey.Oid.Value -eq '1.2.840.10045.2.1') { [System.Security.Cryptography.ECDsa]::Create() } else { [System.Security.Cryptography.RSA]::Create() })
      try { $key.ImportFromPem($text) } catch { continue }
      $pub = $key.ExportSubjectPublicKeyInfo()
      if ([System.Convert]::ToBase64String($pub) -ne [System.Convert]::ToBase64String($x.PublicKey.ExportSubjectPublicKeyInfo())) { continue }
      $h = @{}
      foreach ($l in $text -split "`n") { if ($l -match '^(Container|Provider|ProviderType|KeySpec): (.*)$') { $h[$Matches[1]] = $Matches[2].TrimEnd("`r") } }
      $rel = $d + '\' + [System.IO.Path]::GetFileName($f)
      Write-RenewdKeyProv ([System.IO.Path]::Combine($s.Dir, $x.Thumbprint + '.keyprov')) $h['Container'] $h['Provider'] ([long]$h['ProviderType']) ([long]$h['KeySpec']) $rel
      [Console]::Out.WriteLine("Encryption test passed`r`nCertUtil: -repairstore command completed successfully.")
      return
    }
  }
  Out-Fail "CertUtil: -repairstore command FAILED: 0x80090016 (-2146893802 NTE_BAD_KEYSET)`r`nCertUtil: Keyset does not exist"
}

function Invoke-Dump {
  $f = $(if ($env:RENEWD_WIN_CA) { [System.IO.Path]::Combine($env:RENEWD_WIN_CA, 'config') } else { '' })
  if ($env:RENEWD_WIN_SYSTEM -ne '1' -or -not $f -or -not [System.IO.File]::Exists($f)) {
    Out-Fail "CertUtil: -dump command FAILED: 0x800706ba (WIN32: 1722 RPC_S_SERVER_UNAVAILABLE)`r`nCertUtil: The RPC server is unavailable."
  }
  $config = [System.IO.File]::ReadAllText($f).Trim()
  $server, $name = $config.Split('\', 2)
  $o = @('Entry 0: (Local)', "  Name:                   `t`"$name`"", "  Config:                 `t`"$config`"",
    "  Server:                 `t`"$server`"", "  Authority:              `t`"$name`"", 'CertUtil: -dump command completed successfully.')
  [Console]::Out.WriteLine(($o -join "`r`n"))
}

if ($argv.Count -eq 3 -and $argv[0] -eq '-repairstore') { Invoke-RepairStore $argv[1] $argv[2] }
elseif ($argv.Count -eq 1 -and $argv[0] -eq '-dump') { Invoke-Dump }
else { Out-Fail 'CertUtil: only -repairstore <store> <thumbprint> and -dump are emulated' }
exit 0
