using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Sandboxd.Core;
using Sandboxd.State;

namespace Sandboxd.Auth;

/// <summary>A session token at rest: only the SHA-256 of the secret is kept.</summary>
internal sealed record StoredSessionToken(string Id, string Hash, string? Description, DateTime CreatedAt, DateTime ExpiresAt, DateTime? LastUsedAt);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<StoredSessionToken>))]
internal sealed partial class AuthStateJsonContext : JsonSerializerContext;

/// <summary>
/// Delegated credentials: minted by the access token, hashed at rest (survive a restart), compared in constant time,
/// expired or revoked ⇒ forgotten. Revocation also cuts what the token still has open (WebSockets, proxied requests).
/// </summary>
internal sealed class SessionTokens
{
    public const long DefaultLifetimeSeconds = 604800;
    private const string StateFile = "session-tokens.json";
    private static readonly TimeSpan LastUsedFlushInterval = TimeSpan.FromSeconds(30);

    private readonly StateStore _state;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    /// <remarks>Guarded by <see cref="_gate"/>. Key = hex SHA-256 of the secret.</remarks>
    private readonly Dictionary<string, StoredSessionToken> _byHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, List<Action>> _onRevoke = new(StringComparer.Ordinal);
    private DateTime _lastFlush;

    public SessionTokens(StateStore state, TimeProvider time)
    {
        _state = state;
        _time = time;
        foreach (var token in _state.Read(StateFile, AuthStateJsonContext.Default.ListStoredSessionToken) ?? [])
        {
            _byHash[token.Hash] = token;
        }
    }

    private DateTime Now => _time.GetUtcNow().UtcDateTime;

    private static string Hash(string token) => Convert.ToHexStringLower(AccessTokens.Hash(token));

    public (StoredSessionToken Stored, string Secret) Create(string? description, long lifetimeSeconds)
    {
        var secret = AccessTokens.Generate("sst_");
        var now = Now;
        var stored = new StoredSessionToken(Ids.New("st_"), Hash(secret), description, now, now.AddSeconds(lifetimeSeconds), null);
        lock (_gate)
        {
            _byHash[stored.Hash] = stored;
            SaveUnsynchronized();
        }

        return (stored, secret);
    }

    /// <summary>The principal of a live session token, or null. Marks it used.</summary>
    public AuthPrincipal? Validate(string token)
    {
        var hash = Hash(token);
        lock (_gate)
        {
            if (!_byHash.TryGetValue(hash, out var stored)
                || !CryptographicOperations.FixedTimeEquals(Convert.FromHexString(stored.Hash), Convert.FromHexString(hash)))
            {
                return null;
            }

            var now = Now;
            if (stored.ExpiresAt <= now)
            {
                _byHash.Remove(hash);
                SaveUnsynchronized();
                return null;
            }

            _byHash[hash] = stored with { LastUsedAt = now };
            if (now - _lastFlush > LastUsedFlushInterval)
            {
                SaveUnsynchronized();
            }

            return new AuthPrincipal(TokenKind.SessionToken, stored.Id, stored.ExpiresAt);
        }
    }

    /// <summary>Live tokens, oldest first.</summary>
    public List<StoredSessionToken> List()
    {
        lock (_gate)
        {
            PurgeExpiredUnsynchronized();
            return [.. _byHash.Values.OrderBy(t => t.CreatedAt)];
        }
    }

    public StoredSessionToken? Get(string id)
    {
        lock (_gate)
        {
            PurgeExpiredUnsynchronized();
            return _byHash.Values.FirstOrDefault(t => t.Id == id);
        }
    }

    public bool Revoke(string id)
    {
        lock (_gate)
        {
            var stored = _byHash.Values.FirstOrDefault(t => t.Id == id);
            if (stored is null)
            {
                return false;
            }

            _byHash.Remove(stored.Hash);
            SaveUnsynchronized();
        }

        if (_onRevoke.TryRemove(id, out var actions))
        {
            Action[] copy;
            lock (actions)
            {
                copy = [.. actions];
            }

            foreach (var action in copy)
            {
                action();
            }
        }

        return true;
    }

    /// <summary>Runs <paramref name="onRevoke"/> if the session token is revoked while the returned handle is alive.</summary>
    public IDisposable OnRevoke(string id, Action onRevoke)
    {
        var list = _onRevoke.GetOrAdd(id, _ => []);
        lock (list)
        {
            list.Add(onRevoke);
        }

        return new Registration(list, onRevoke);
    }

    /// <summary>
    /// Runs <paramref name="onEnd"/> when the principal's session token is revoked or expires while the returned handle
    /// is alive (a WebSocket or a long request must not outlive its credential); a no-op for other principals.
    /// </summary>
    public IDisposable WhileValid(AuthPrincipal principal, Action onEnd)
    {
        if (principal.SessionTokenId is not { } id)
        {
            return NoRegistration.Instance;
        }

        // The cut-off goes first in Both: once the request is over, neither a revocation already under way nor an
        // expiry timer already firing may reach its (recycled) HttpContext.
        var cutoff = new Cutoff(onEnd);
        var revocation = OnRevoke(id, cutoff.Fire);
        IDisposable handle = principal.ExpiresAt is { } expiresAt
            ? new Both(cutoff, new Both(revocation, new ExpiryWatch(_time, expiresAt, cutoff.Fire)))
            : new Both(cutoff, revocation);

        // A revocation between the request's authentication and the registration above ran before this request could
        // hear of it (and a WebSocket not yet in the hub escapes its sweep too): look again, now that it is registered.
        if (Get(id) is null)
        {
            cutoff.Fire();
        }

        return handle;
    }

    /// <summary>
    /// Runs an action at most once, and never after <see cref="Dispose"/> has returned: <see cref="Revoke"/> calls its
    /// actions outside its lock and a timer callback can outlive <c>ITimer.Dispose</c>, so without this an abort could
    /// land on a request that had already ended (a 500 from the revoking request, or a later request on the same
    /// keep-alive connection cut).
    /// </summary>
    private sealed class Cutoff(Action onEnd) : IDisposable
    {
        private readonly Lock _gate = new();
        private bool _over;

        public void Fire()
        {
            lock (_gate)
            {
                if (_over)
                {
                    return;
                }

                _over = true;
                onEnd();
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _over = true;
            }
        }
    }

    /// <summary>Runs an action once the clock passes a time; re-arms in steps because a timer cannot wait ten years.</summary>
    private sealed class ExpiryWatch : IDisposable
    {
        private static readonly TimeSpan LongestStep = TimeSpan.FromDays(20);
        private readonly TimeProvider _time;
        private readonly DateTime _expiresAt;
        private readonly Action _onEnd;
        private readonly ITimer _timer;

        public ExpiryWatch(TimeProvider time, DateTime expiresAt, Action onEnd)
        {
            _time = time;
            _expiresAt = expiresAt;
            _onEnd = onEnd;
            _timer = time.CreateTimer(static state => ((ExpiryWatch)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer.Change(Step(), Timeout.InfiniteTimeSpan);
        }

        private TimeSpan Step()
        {
            var left = _expiresAt - _time.GetUtcNow().UtcDateTime;
            return left <= TimeSpan.Zero ? TimeSpan.Zero : left < LongestStep ? left : LongestStep;
        }

        private void Fire()
        {
            var step = Step();
            if (step > TimeSpan.Zero)
            {
                try
                {
                    _timer.Change(step, Timeout.InfiniteTimeSpan);
                }
                catch (ObjectDisposedException)
                {
                    // disposed while this callback ran (its request ended): nothing to watch any more
                }

                return;
            }

            _onEnd();
        }

        public void Dispose() => _timer.Dispose();
    }

    private sealed class Both(IDisposable first, IDisposable second) : IDisposable
    {
        public void Dispose()
        {
            first.Dispose();
            second.Dispose();
        }
    }

    private sealed class NoRegistration : IDisposable
    {
        public static readonly NoRegistration Instance = new();

        public void Dispose()
        {
        }
    }

    private sealed class Registration(List<Action> list, Action action) : IDisposable
    {
        public void Dispose()
        {
            lock (list)
            {
                list.Remove(action);
            }
        }
    }

    public void Flush()
    {
        lock (_gate)
        {
            SaveUnsynchronized();
        }
    }

    private void PurgeExpiredUnsynchronized()
    {
        var now = Now;
        var expired = _byHash.Where(p => p.Value.ExpiresAt <= now).Select(p => p.Key).ToList();
        foreach (var hash in expired)
        {
            _byHash.Remove(hash);
        }

        if (expired.Count > 0)
        {
            SaveUnsynchronized();
        }
    }

    private void SaveUnsynchronized()
    {
        _lastFlush = Now;
        _state.Write(StateFile, [.. _byHash.Values], AuthStateJsonContext.Default.ListStoredSessionToken);
    }
}
