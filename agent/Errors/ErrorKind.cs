namespace Sandboxd.Errors;

/// <summary>
/// What went wrong, in the agent's own terms. Services and handlers name a kind; only <c>Core/Api</c> knows which
/// HTTP status each kind is on the wire.
/// </summary>
internal enum ErrorKind
{
    /// <summary>The request is malformed or names something that cannot be used.</summary>
    Invalid,

    /// <summary>No valid credential came with the request.</summary>
    Unauthorized,

    /// <summary>The caller may not do this.</summary>
    Forbidden,

    /// <summary>What the request names does not exist.</summary>
    NotFound,

    /// <summary>A wait the caller bounded ran out.</summary>
    Timeout,

    /// <summary>The request clashes with the current state, e.g. a name already in use.</summary>
    Conflict,

    /// <summary>What the request names existed once and can no longer be used (a spent magic link).</summary>
    Gone,

    /// <summary>A condition the request set does not hold.</summary>
    PreconditionFailed,

    /// <summary>The request or the thing it asks for is larger than the agent accepts.</summary>
    TooLarge,

    /// <summary>The body is in a format the route does not read.</summary>
    UnsupportedMediaType,

    /// <summary>The route speaks another protocol (a WebSocket version the agent does not).</summary>
    UpgradeRequired,

    /// <summary>The agent failed in a way the caller cannot fix.</summary>
    Internal,

    /// <summary>The upstream the request is forwarded to did not answer properly.</summary>
    BadGateway,

    /// <summary>Something the request needs is not available now.</summary>
    Unavailable,

    /// <summary>The device is full; nothing was changed.</summary>
    InsufficientStorage,
}
