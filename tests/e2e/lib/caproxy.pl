# tests/e2e/lib/caproxy.pl — a misbehaving proxy in front of the lab's SCEP
# CA, for the CA fault tests (perl-base only; not a test itself).
#   perl caproxy.pl LISTEN UPSTREAM MODEFILE PIDFILE
# GET requests (GetCACaps, GetCACert) always pass. For each POST (the
# PKIOperation) the first line of MODEFILE, read then, says what happens:
#   pass      forward it, return the CA's answer
#   503       answer "503 Service Unavailable" without contacting the CA
#   slow:S    forward it, return the CA's answer S seconds later
#   drop      forward it, read the CA's answer, close the connection without
#             a byte (the CA issued; the reply is lost)
#   hold      forward it, write the CA's answer to MODEFILE.held and keep the
#             connection open without a byte until the client is gone
# With CAPROXY_DOUBLE="HELPER CACERT CAKEY" in the environment (HELPER is
# scepdouble.c built, CACERT/CAKEY the lab CA's), the proxy is also a CA
# that can pend:
#   pend      forward a request (PKCSReq, RenewalReq) to the CA, keep the
#             CA's answer in MODEFILE.kept.TXID, answer PENDING (signed
#             with the CA's key)
#   and a CertPoll of a transaction whose answer is kept is answered here:
#             PENDING again in mode pend, else the kept answer re-signed for
#             the poll (its nonce); other CertPolls go to the CA
# and appends what it did to MODEFILE.double ("request pending", "poll
# pending", "poll answered").
# Each POST appends "MODE" to MODEFILE.log. The proxy is its own process
# group: kill -- -PID stops it with its children.
# With CAPROXY_SERIAL=1 the POSTs reach the CA one at a time (a lock on
# MODEFILE.lock from the request to the CA's answer): scepserver answers
# parallel PKIOperations with duplicate serials or badRequest (docs/LAB.md).
use strict; use warnings; use IO::Socket::INET; use Fcntl ':flock';
my ($listen, $upstream, $modefile, $pidfile) = @ARGV;
setpgrp(0, 0);
my $srv = IO::Socket::INET->new(LocalAddr => $listen, Listen => 16, ReuseAddr => 1) or die "listen $listen: $!";
open(my $pf, '>', $pidfile) or die "$pidfile: $!"; print $pf "$$\n"; close $pf;
$SIG{CHLD} = 'IGNORE';
while (1) {
	my $c = $srv->accept or next;
	if (fork) { close $c; next }
	my $req = '';
	while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or exit 0 }
	my ($head, $body) = split /\r\n\r\n/, $req, 2;
	my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
	while (length($body) < ($len // 0)) { sysread($c, $body, 65536, length $body) or exit 0 }
	$head =~ s/\r\nConnection:[^\r]*//gi;
	my $mode = 'pass';
	if ($head =~ /^POST /) {
		if (open(my $m, '<', $modefile)) { $mode = <$m> // 'pass'; chomp $mode; close $m }
		if (open(my $l, '>>', "$modefile.log")) { print $l "$mode\n"; close $l }
	}
	if ($mode eq '503') {
		print $c "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\ntry later\r\n";
		exit 0;
	}
	my $double = $ENV{CAPROXY_DOUBLE} && $head =~ /^POST / ? double_prepare($body) : undef;
	if ($double && $double->{type} eq '20' && -s $double->{kept}) {
		my $pend = $mode eq 'pend';
		answer($c, helper($pend ? 'pending' : 'answer', $double->{req}, $pend ? () : ($double->{kept})));
		note("poll " . ($pend ? 'pending' : 'answered'));
		exit 0;
	}
	my $lk;
	if ($ENV{CAPROXY_SERIAL} && $head =~ /^POST /) {
		open($lk, '>>', "$modefile.lock") or die "$modefile.lock: $!";
		flock($lk, LOCK_EX) or die "$modefile.lock: $!";
	}
	my $u = IO::Socket::INET->new(PeerAddr => $upstream) or exit 1;
	print $u "$head\r\nConnection: close\r\n\r\n$body";
	my $rep = '';
	while (sysread($u, $rep, 65536, length $rep)) { }
	close $lk if $lk;
	if ($double && $mode eq 'pend') {
		my ($rh, $rb) = split /\r\n\r\n/, $rep, 2;
		$rb = dechunk($rb) if $rh =~ /^Transfer-Encoding:\s*chunked/mi;
		spew($double->{kept}, $rb);
		answer($c, helper('pending', $double->{req}));
		note('request pending');
		exit 0;
	}
	exit 0 if $mode eq 'drop';
	if ($mode eq 'hold') {
		open(my $h, '>', "$modefile.held") or die; print $h $rep; close $h;
		sysread($c, my $x, 1);
		exit 0;
	}
	sleep $1 if $mode =~ /^slow:(\d+)$/;
	print $c $rep;
	exit 0;
}

# The double's pieces (CAPROXY_DOUBLE).
sub spew { my ($f, $d) = @_; open(my $h, '>', $f) or die "$f: $!"; binmode $h; print $h $d; close $h }
sub note { if (open(my $l, '>>', "$modefile.double")) { print $l "$_[0]\n"; close $l } }
sub helper { # helper ACTION REQ [REP]: the CertRep it prints
	my ($bin, $ca, $key) = split ' ', $ENV{CAPROXY_DOUBLE};
	local $SIG{CHLD} = 'DEFAULT'; # close() waits for it
	my @args = $_[0] eq 'info' ? ($_[0], $_[1]) : (@_, $ca, $key);
	open(my $p, '-|', $bin, @args) or die "$bin: $!";
	binmode $p;
	local $/;
	my $out = <$p> // '';
	close $p or die "$bin @args failed";
	return $out;
}
sub double_prepare { # the request's type, transaction and kept answer's file
	my $req = "$modefile.req.$$";
	spew($req, $_[0]);
	my ($type, $txid) = split ' ', helper('info', $req);
	$txid =~ s/[^A-Za-z0-9]/_/g;
	return { req => $req, type => $type, kept => "$modefile.kept.$txid" };
}
sub answer {
	my ($c, $d) = @_;
	print $c "HTTP/1.1 200 OK\r\nContent-Type: application/x-pki-message\r\nContent-Length: "
		. length($d) . "\r\nConnection: close\r\n\r\n$d";
}
sub dechunk {
	my ($in, $out) = ($_[0], '');
	while ($in =~ s/^([0-9a-fA-F]+)[^\r]*\r\n//) {
		my $n = hex $1;
		last if !$n;
		$out .= substr($in, 0, $n, '');
		$in =~ s/^\r\n//;
	}
	return $out;
}
