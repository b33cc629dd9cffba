// SftpServer.cs — `renewd-pshost --sftp-server`: the SFTP subsystem of the
// emulated Windows host (tests/windows/README.md, [rule 13]). SFTP version 3
// (draft-ietf-secsh-filexfer-02, what OpenSSH's sftp-server speaks) on
// stdin/stdout, with the Windows OpenSSH server's path rules: a path names a
// file on a drive, `C:\x`, `C:/x` or `/C:/x` (Win32-OpenSSH's sftp-server
// sends and accepts the drive form with a leading slash so that a path is
// absolute per the draft: https://github.com/PowerShell/Win32-OpenSSH/issues/48;
// the server itself: https://learn.microsoft.com/windows-server/administration/openssh/openssh_overview),
// mapped onto $RENEWD_WIN_ROOT/<drive letter>/x (Runner.MapWindowsPath's
// rule); a relative path is relative to the account's profile,
// C:\Users\<user>. Names are case-sensitive here (ext4), not on NTFS.
// A rename onto an existing file fails with SSH_FX_FAILURE, as on the
// real server (OpenSSH's sftp-server renames with link + unlink; Win32's
// link does not replace), and renewd then unlinks and renames again.
// Nothing outside $RENEWD_WIN_ROOT is reachable (`..` stops at C:\).
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Renewd.PsHost
{
    internal sealed class SftpServer
    {
        private const byte Init = 1, Version = 2, Open = 3, Close = 4, Read = 5, Write = 6, Lstat = 7, Fstat = 8,
            Setstat = 9, Fsetstat = 10, Opendir = 11, Readdir = 12, Remove = 13, Mkdir = 14, Rmdir = 15,
            Realpath = 16, Stat = 17, Rename = 18, Status = 101, Handle = 102, Data = 103, Name = 104, Attrs = 105;
        private const uint Ok = 0, Eof = 1, NoSuchFile = 2, PermissionDenied = 3, Failure = 4, BadMessage = 5, OpUnsupported = 8;
        private const uint FxRead = 1, FxWrite = 2, FxAppend = 4, FxCreat = 8, FxTrunc = 16, FxExcl = 32;

        private readonly Stream inp, outp;
        private readonly string root, home;
        private readonly Dictionary<string, object> handles = new Dictionary<string, object>();
        private int next;

        private SftpServer(Stream i, Stream o, string root, string user)
        {
            inp = i; outp = o;
            this.root = Path.GetFullPath(root).TrimEnd('/');
            home = "C:\\Users\\" + user;
        }

        public static int Serve(TextWriter err)
        {
            string root = Environment.GetEnvironmentVariable("RENEWD_WIN_ROOT");
            if (string.IsNullOrEmpty(root)) { err.WriteLine("renewd-pshost --sftp-server: RENEWD_WIN_ROOT is not set"); return 1; }
            string user = Environment.GetEnvironmentVariable("USER") ?? "user";
            var s = new SftpServer(Console.OpenStandardInput(), Console.OpenStandardOutput(), root, user);
            try { s.Loop(); } catch (EndOfStreamException) { }
            foreach (object h in s.handles.Values) (h as IDisposable)?.Dispose();
            return 0;
        }

        // The local path of a Windows path, or null when it is not one or
        // leaves the emulated machine.
        internal string Local(string p)
        {
            string w = p.Replace('/', '\\');
            if (w.StartsWith("\\") && w.Length >= 3 && w[2] == ':') w = w.Substring(1);  // /C:/x
            if (!(w.Length >= 2 && char.IsAsciiLetter(w[0]) && w[1] == ':'))
            {
                if (w.StartsWith("\\")) return null;  // no drive: not a Windows file
                w = home + "\\" + w;                   // relative: the profile
            }
            string rest = w.Length > 2 ? w.Substring(2).TrimStart('\\') : "";
            string drive = Path.Combine(root, char.ToLowerInvariant(w[0]).ToString());
            // `..` stops at the drive's root, as Windows' GetFullPathName does
            string norm = Path.GetFullPath("/" + rest.Replace('\\', '/'));
            return norm == "/" ? drive : drive + norm;
        }

        // The Windows spelling of a local path (REALPATH): /C:/x.
        private string Windows(string local)
        {
            string rel = local.Substring(root.Length + 1);
            int s = rel.IndexOf('/');
            return "/" + char.ToUpperInvariant(rel[0]) + ":/" + (s < 0 ? "" : rel.Substring(s + 1));
        }

        private void Loop()
        {
            while (true)
            {
                byte[] len = ReadN(4);
                uint n = BE(len, 0);
                if (n < 1 || n > 256 * 1024) throw new EndOfStreamException();
                var r = new Reader(ReadN((int)n));
                byte type = r.Byte();
                if (type == Init) { Send(new Writer().Byte(Version).U32(3)); continue; }
                uint id = r.U32();
                try { Dispatch(type, id, r); }
                catch (FileNotFoundException) { StatusReply(id, NoSuchFile, "No such file"); }
                catch (DirectoryNotFoundException) { StatusReply(id, NoSuchFile, "No such file"); }
                catch (UnauthorizedAccessException) { StatusReply(id, PermissionDenied, "Permission denied"); }
                catch (IOException e) { StatusReply(id, Failure, e.Message); }
                catch (IndexOutOfRangeException) { StatusReply(id, BadMessage, "Bad message"); }
            }
        }

        private void Dispatch(byte type, uint id, Reader r)
        {
            string path;
            switch (type)
            {
                case Open:
                {
                    path = Local(r.Str()); uint pf = r.U32(); r.Attrs();
                    if (path == null) { StatusReply(id, NoSuchFile, "No such file"); return; }
                    FileMode mode = (pf & FxCreat) == 0 ? FileMode.Open
                        : (pf & FxExcl) != 0 ? FileMode.CreateNew : (pf & FxTrunc) != 0 ? FileMode.Create : FileMode.OpenOrCreate;
                    FileAccess acc = (pf & (FxWrite | FxAppend)) == 0 ? FileAccess.Read
                        : (pf & FxRead) != 0 ? FileAccess.ReadWrite : FileAccess.Write;
                    if (mode == FileMode.CreateNew && File.Exists(path)) { StatusReply(id, Failure, "File exists"); return; }
                    HandleReply(id, new FileStream(path, mode, acc));
                    return;
                }
                case Close:
                {
                    string h = r.Str();
                    if (!handles.Remove(h, out object o)) { StatusReply(id, Failure, "bad handle"); return; }
                    (o as IDisposable)?.Dispose();
                    StatusReply(id, Ok, "Success");
                    return;
                }
                case Read:
                {
                    FileStream f = Fh(r.Str()); ulong off = r.U64(); uint n = Math.Min(r.U32(), 64 * 1024);
                    var buf = new byte[n];
                    f.Seek((long)off, SeekOrigin.Begin);
                    int got = f.Read(buf, 0, (int)n);
                    if (got <= 0) { StatusReply(id, Eof, "End of file"); return; }
                    Send(new Writer().Byte(Data).U32(id).Bytes(buf, got));
                    return;
                }
                case Write:
                {
                    FileStream f = Fh(r.Str()); ulong off = r.U64(); byte[] d = r.Bytes();
                    f.Seek((long)off, SeekOrigin.Begin);
                    f.Write(d, 0, d.Length);
                    StatusReply(id, Ok, "Success");
                    return;
                }
                case Fstat:
                    AttrsReply(id, Fh(r.Str()).Name);
                    return;
                case Lstat: case Stat:
                    path = Local(r.Str());
                    if (path == null || (!System.IO.File.Exists(path) && !Directory.Exists(path))) { StatusReply(id, NoSuchFile, "No such file"); return; }
                    AttrsReply(id, path);
                    return;
                case Setstat: case Fsetstat:
                    // Windows has no POSIX mode bits: accepted, not applied
                    StatusReply(id, Ok, "Success");
                    return;
                case Remove:
                    path = Local(r.Str());
                    if (path == null || !System.IO.File.Exists(path)) { StatusReply(id, NoSuchFile, "No such file"); return; }
                    System.IO.File.Delete(path);
                    StatusReply(id, Ok, "Success");
                    return;
                case Rename:
                {
                    string from = Local(r.Str()), to = Local(r.Str());
                    if (from == null || to == null || !System.IO.File.Exists(from)) { StatusReply(id, NoSuchFile, "No such file"); return; }
                    if (System.IO.File.Exists(to) || Directory.Exists(to)) { StatusReply(id, Failure, "Failure"); return; }
                    System.IO.File.Move(from, to);
                    StatusReply(id, Ok, "Success");
                    return;
                }
                case Mkdir:
                    path = Local(r.Str());
                    if (path == null) { StatusReply(id, NoSuchFile, "No such file"); return; }
                    if (Directory.Exists(path) || System.IO.File.Exists(path)) { StatusReply(id, Failure, "File exists"); return; }
                    Directory.CreateDirectory(path);
                    StatusReply(id, Ok, "Success");
                    return;
                case Rmdir:
                    path = Local(r.Str());
                    if (path == null || !Directory.Exists(path)) { StatusReply(id, NoSuchFile, "No such file"); return; }
                    Directory.Delete(path);
                    StatusReply(id, Ok, "Success");
                    return;
                case Opendir:
                    path = Local(r.Str());
                    if (path == null || !Directory.Exists(path)) { StatusReply(id, NoSuchFile, "No such file"); return; }
                    HandleReply(id, new Queue<string>(Directory.EnumerateFileSystemEntries(path)));
                    return;
                case Readdir:
                {
                    if (!handles.TryGetValue(r.Str(), out object o) || o is not Queue<string> q) { StatusReply(id, Failure, "bad handle"); return; }
                    if (q.Count == 0) { StatusReply(id, Eof, "End of file"); return; }
                    string e = q.Dequeue();
                    var w = new Writer().Byte(Name).U32(id).U32(1).Str(Path.GetFileName(e)).Str(Path.GetFileName(e));
                    Send(AttrsOf(w, e));
                    return;
                }
                case Realpath:
                    path = Local(r.Str());
                    if (path == null) { StatusReply(id, NoSuchFile, "No such file"); return; }
                    string wp = Windows(path);
                    Send(AttrsOf(new Writer().Byte(Name).U32(id).U32(1).Str(wp).Str(wp), null));
                    return;
                default:
                    StatusReply(id, OpUnsupported, "Operation unsupported");
                    return;
            }
        }

        private FileStream Fh(string h) =>
            handles.TryGetValue(h, out object o) && o is FileStream f ? f : throw new IOException("bad handle");

        private void HandleReply(uint id, object o)
        {
            string h = (++next).ToString();
            handles[h] = o;
            Send(new Writer().Byte(Handle).U32(id).Str(h));
        }

        private void StatusReply(uint id, uint code, string msg) =>
            Send(new Writer().Byte(Status).U32(id).U32(code).Str(msg).Str(""));

        private void AttrsReply(uint id, string path) => Send(AttrsOf(new Writer().Byte(Attrs).U32(id), path));

        // size (files), permissions, atime/mtime; nothing for a null path
        private static Writer AttrsOf(Writer w, string path)
        {
            if (path == null) return w.U32(0);
            bool dir = Directory.Exists(path);
            var fi = new FileInfo(path);
            uint mt = (uint)new DateTimeOffset(dir ? Directory.GetLastWriteTimeUtc(path) : fi.LastWriteTimeUtc).ToUnixTimeSeconds();
            w.U32(dir ? 0xCu : 0xDu);  // [size] permissions acmodtime
            if (!dir) w.U64((ulong)fi.Length);
            return w.U32(dir ? 0x41C0u : 0x8180u).U32(mt).U32(mt);  // 0700 dir / 0600 file
        }

        private byte[] ReadN(int n)
        {
            var b = new byte[n];
            for (int got = 0; got < n;)
            {
                int k = inp.Read(b, got, n - got);
                if (k <= 0) throw new EndOfStreamException();
                got += k;
            }
            return b;
        }

        private void Send(Writer w)
        {
            byte[] body = w.ToArray();
            var len = new byte[4];
            len[0] = (byte)(body.Length >> 24); len[1] = (byte)(body.Length >> 16); len[2] = (byte)(body.Length >> 8); len[3] = (byte)body.Length;
            outp.Write(len, 0, 4);
            outp.Write(body, 0, body.Length);
            outp.Flush();
        }

        private static uint BE(byte[] b, int i) => (uint)(b[i] << 24 | b[i + 1] << 16 | b[i + 2] << 8 | b[i + 3]);

        private sealed class Reader
        {
            private readonly byte[] b;
            private int i;
            public Reader(byte[] b) { this.b = b; }
            public byte Byte() => b[i++];
            public uint U32() { uint v = BE(b, i); i += 4; return v; }
            public ulong U64() => (ulong)U32() << 32 | U32();
            public byte[] Bytes()
            {
                int n = (int)U32();
                if (n < 0 || i + n > b.Length) throw new IndexOutOfRangeException();
                var d = new byte[n];
                Array.Copy(b, i, d, 0, n);
                i += n;
                return d;
            }
            public string Str() => Encoding.UTF8.GetString(Bytes());
            // attributes: skipped (Windows applies none of them)
            public void Attrs()
            {
                uint f = U32();
                if ((f & 1) != 0) U64();
                if ((f & 2) != 0) { U32(); U32(); }
                if ((f & 4) != 0) U32();
                if ((f & 8) != 0) { U32(); U32(); }
                if ((f & 0x80000000) != 0) { uint n = U32(); for (uint k = 0; k < 2 * n; k++) Bytes(); }
            }
        }

        private sealed class Writer
        {
            private readonly MemoryStream m = new MemoryStream();
            public Writer Byte(byte v) { m.WriteByte(v); return this; }
            public Writer U32(uint v) { m.WriteByte((byte)(v >> 24)); m.WriteByte((byte)(v >> 16)); m.WriteByte((byte)(v >> 8)); m.WriteByte((byte)v); return this; }
            public Writer U64(ulong v) => U32((uint)(v >> 32)).U32((uint)v);
            public Writer Bytes(byte[] d, int n) { U32((uint)n); m.Write(d, 0, n); return this; }
            public Writer Str(string s) { byte[] d = Encoding.UTF8.GetBytes(s); return Bytes(d, d.Length); }
            public byte[] ToArray() => m.ToArray();
        }
    }
}
