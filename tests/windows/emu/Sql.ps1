# Sql.ps1 — part of RenewdWindows.psm1 (dot-sourced): a SQL Server
# instance's TLS certificate, as runbooks/windows-sql-server.json meets it,
# and the TLS endpoint the instance serves once started (listener.sh).
#
# The instance: emu/mssql.json, {"service": "MSSQLSERVER", "account":
# "NT Service\\MSSQLSERVER", "port": 1433}: the service (MSSQLSERVER for the
# default instance, MSSQL$<name> for a named one), the account it runs as,
# its TCP port. Its instance ID is HKLM\SOFTWARE\Microsoft\Microsoft SQL
# Server\Instance Names\SQL\<instance name> (MSSQL16.MSSQLSERVER), its
# settings under HKLM\SOFTWARE\Microsoft\Microsoft SQL Server\<instance ID>
# (https://learn.microsoft.com/sql/sql-server/install/file-locations-for-default-and-named-instances-of-sql-server).
# When the service starts (Restart-Service: Invoke-RenewdServiceStart) the
# instance loads the certificate whose thumbprint is
# ...\MSSQLServer\SuperSocketNetLib\Certificate from LocalMachine\My; the
# service account must read its private key
# (https://learn.microsoft.com/sql/database-engine/configure-windows/certificate-requirements,
# https://learn.microsoft.com/sql/database-engine/configure-windows/configure-sql-server-encryption).
# When it cannot, the service does not start, as SQL Server does: no such
# certificate, or not valid now, "Unable to load user-specified
# certificate" (KB 900497, https://support.microsoft.com/kb/900497); a key
# it cannot read, "The server could not load the certificate it needs to
# initiate an SSL connection. It returned the following error: 0x8009030d"
# (SEC_E_UNKNOWN_CREDENTIALS; KB 2023869,
# https://support.microsoft.com/kb/2023869: the service fails to start);
# either is logged in the Application log (event 26014, source
# MSSQLSERVER). Started with a certificate, it serves TLS with it on the
# machine's address and its port (listener "mssql-<port>"): the TDS 8.0
# strict-encryption handshake the runbook's tls.verify makes. An empty
# value: SQL Server makes a self-signed certificate, which is not served
# here (no listener).

# Why the SQL Server service cannot start, or $null; starts or stops its
# listener accordingly
function Start-RenewdSqlServer($Conf) {
  $inst = $(if ([string]$Conf.service -match '^MSSQL\$(.+)\z') { $Matches[1] } else { 'MSSQLSERVER' })
  $root = 'HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server'
  $id = (Get-ItemProperty -Path ($root + '\Instance Names\SQL') -Name $inst -ErrorAction Stop).$inst
  $thumb = [string](Get-ItemProperty -Path ($root + '\' + $id + '\MSSQLServer\SuperSocketNetLib') -Name Certificate -ErrorAction Stop).Certificate
  $name = 'mssql-' + [int]$Conf.port
  $why = $null
  if (-not $thumb) { Invoke-RenewdListener stop $name; return $null }
  $unload = 'Unable to load user-specified certificate [Cert Hash(sha1) "' + $thumb + '"]. The server will not accept a connection.'
  $dir = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'cert', 'LocalMachine', 'My')
  $now = [DateTime]::Now
  if ($thumb -notmatch '^[0-9A-Fa-f]{40}\z' -or -not [System.IO.File]::Exists([System.IO.Path]::Combine($dir, $thumb.ToUpperInvariant() + '.cer'))) {
    $why = $unload
  } else {
    $c = Get-RenewdEmuCert $dir $thumb.ToUpperInvariant()
    $kp = [System.IO.Path]::Combine($dir, $c.Thumbprint + '.keyprov')
    $sid = $null
    try { $sid = (Invoke-RenewdEmuSid ([string]$Conf.account)).Value } catch { $sid = $null }
    if ($c.NotBefore -gt $now -or $c.NotAfter -lt $now) { $why = $unload }
    elseif (-not $c.HasPrivateKey -or -not $sid -or
      ((Get-RenewdAclMask ('C:\ProgramData\Microsoft\Crypto\' + (Read-RenewdKeyProv $kp).KeyFile) $sid) -band 0x20089) -ne 0x20089) {
      $why = 'The server could not load the certificate it needs to initiate an SSL connection. It returned the following error: 0x8009030d. Check certificates to make sure they are valid.'
    }
  }
  if ($why) {
    Invoke-RenewdListener stop $name
    Write-RenewdEvent 26014 ([string]$Conf.service) $why
    return $why
  }
  Start-RenewdTlsListener $name ([int]$Conf.port) ('Cert:\LocalMachine\My\' + $c.Thumbprint)
  return $null
}

# Restart-Service's start of service NAME: why it does not start, or $null
# (services without a behaviour of their own start)
function Invoke-RenewdServiceStart([string]$Name) {
  $f = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'mssql.json')
  if ([System.IO.File]::Exists($f)) {
    $conf = [System.IO.File]::ReadAllText($f) | ConvertFrom-Json
    if ([string]::Equals([string]$conf.service, $Name, [System.StringComparison]::OrdinalIgnoreCase)) { return Start-RenewdSqlServer $conf }
  }
  return $null
}
