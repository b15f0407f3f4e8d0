using Sandboxd.Gateway.Native;

namespace Sandboxd.Gateway.Hosting;

/// <summary>
/// TEST-ONLY fault injection: with <c>SANDBOXD_GATEWAY_CRASH_AT=&lt;point&gt;</c> in its environment the gateway kills
/// itself with SIGKILL when it reaches that point — between an engine call and the store write that follows it — so
/// the tests can check that the next start leaves neither an orphan container nor a dangling record. Points:
/// <c>after-container-create</c>, <c>after-container-start</c>, <c>after-container-remove</c>. Never set it in production.
/// </summary>
internal static class CrashPoint
{
    private static readonly string? Armed = Environment.GetEnvironmentVariable("SANDBOXD_GATEWAY_CRASH_AT");

    public static void Hit(string point, ILogger logger)
    {
        if (Armed == point)
        {
            logger.Crashing(point);
            LibC.Signal(Environment.ProcessId, LibC.SIGKILL);
        }
    }
}
