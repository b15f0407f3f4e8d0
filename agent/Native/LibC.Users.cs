using System.Runtime.InteropServices;

namespace Sandboxd.Native;

internal static unsafe partial class LibC
{
    internal const int PR_SET_DUMPABLE = 4;
    internal const int ERANGE = 34;

    /// <summary>glibc's <c>struct passwd</c> on 64-bit Linux: name, passwd, uid, gid, gecos, dir, shell.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Passwd
    {
        public byte* Name;
        public byte* Password;
        public uint Uid;
        public uint Gid;
        public byte* Gecos;
        public byte* Dir;
        public byte* Shell;
    }

    [LibraryImport("libc", EntryPoint = "getpwnam_r", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int GetPwNamR(string name, Passwd* entry, byte* buffer, nuint size, Passwd** result);

    [LibraryImport("libc", EntryPoint = "getpwuid_r")]
    internal static partial int GetPwUidR(uint uid, Passwd* entry, byte* buffer, nuint size, Passwd** result);

    [LibraryImport("libc", EntryPoint = "getgrouplist", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int GetGroupList(string user, uint group, uint* groups, int* count);

    [LibraryImport("libc", EntryPoint = "getgroups", SetLastError = true)]
    internal static partial int GetGroups(int size, uint* list);

    [LibraryImport("libc", EntryPoint = "getresuid", SetLastError = true)]
    internal static partial int GetResUid(uint* ruid, uint* euid, uint* suid);

    [LibraryImport("libc", EntryPoint = "getresgid", SetLastError = true)]
    internal static partial int GetResGid(uint* rgid, uint* egid, uint* sgid);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int LChown(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial nint Syscall3(nint number, nint arg1, nint arg2, nint arg3);
}
