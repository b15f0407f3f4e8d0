using System.Net.WebSockets;
using System.Text.Json;
using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Sandboxd.Core;
using Sandboxd.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Tests.Time;

/// <summary>
/// The live channels' backlog (messages published while nobody listened) keeps nothing older than
/// <see cref="ChannelRegistry.BacklogAge"/>: driven by a <see cref="FakeTimeProvider"/>, so the ten-second age limit is
/// checked to the millisecond without waiting ten seconds.
/// </summary>
public sealed class BacklogAgeTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static LiveMessage Changed(string path) => LiveMessage.FileChanged("watcher:w1", new FileChangedEvent("change", path));

    /// <summary>The <c>path</c> of each message's data, as the agent serialises it.</summary>
    private static string[] Paths(LiveMessage[] backlog) => [.. backlog.Select(m =>
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            m.WriteData(writer);
        }

        return JsonDocument.Parse(buffer.ToArray()).RootElement.GetProperty("path").GetString()!;
    })];

    private static LiveConnection Subscriber()
    {
        var socket = WebSocket.CreateFromStream(Stream.Null, new WebSocketCreationOptions { IsServer = true });
        return new LiveConnection(socket, new SandboxContext("main", Path.GetTempPath(), isMain: true, basePath: ""), null, binaryProtocol: true, binaryOut: true);
    }

    [Fact]
    public void A_message_published_while_nobody_listened_is_flushed_up_to_its_age_limit_and_not_after()
    {
        var time = new FakeTimeProvider(Start);
        var channels = new ChannelRegistry(time);
        using var subscriber = Subscriber();

        channels.Publish(Changed("/a"));
        time.Advance(ChannelRegistry.BacklogAge - TimeSpan.FromMilliseconds(1));
        channels.Publish(Changed("/b"));
        time.Advance(TimeSpan.FromMilliseconds(1)); // "/a" is now exactly BacklogAge old: still kept (>= cutoff)

        Paths(channels.Subscribe("watcher:w1", subscriber).Backlog).Should().Equal("/a", "/b");
    }

    [Fact]
    public void A_message_older_than_the_age_limit_is_dropped_and_younger_ones_kept()
    {
        var time = new FakeTimeProvider(Start);
        var channels = new ChannelRegistry(time);
        using var subscriber = Subscriber();

        channels.Publish(Changed("/old"));
        time.Advance(TimeSpan.FromSeconds(6));
        channels.Publish(Changed("/young"));
        time.Advance(TimeSpan.FromSeconds(4) + TimeSpan.FromMilliseconds(1)); // "/old" is 10.001 s old, "/young" 4.001 s

        Paths(channels.Subscribe("watcher:w1", subscriber).Backlog).Should().Equal("/young");
    }

    [Fact]
    public void The_backlog_is_flushed_once_a_second_subscriber_gets_nothing()
    {
        var time = new FakeTimeProvider(Start);
        var channels = new ChannelRegistry(time);
        using var first = Subscriber();
        using var second = Subscriber();

        channels.Publish(Changed("/a"));
        channels.Subscribe("watcher:w1", first).Backlog.Should().HaveCount(1);
        channels.Unsubscribe("watcher:w1", first);

        channels.Subscribe("watcher:w1", second).Backlog.Should().BeEmpty("a backlog is flushed to one subscriber only");
    }

    [Fact]
    public void The_backlog_of_a_channel_nobody_ever_subscribes_to_goes_once_it_is_older_than_the_age_limit()
    {
        // A watcher created and destroyed while no socket listened leaves watcher:created and watcher:destroyed in its
        // channel's backlog; the channel is never published to again, so only a sweep can drop it (issue 17 item 6:
        // 1,000 watchers created and deleted left 1,000 queues for the agent's lifetime).
        var time = new FakeTimeProvider(Start);
        var channels = new ChannelRegistry(time);
        for (var i = 0; i < 1000; i++)
        {
            channels.Publish(LiveMessage.FileChanged($"watcher:gone{i}", new FileChangedEvent("change", "/x")));
        }

        channels.BacklogChannelCount.Should().Be(1000);
        time.Advance(ChannelRegistry.BacklogAge + TimeSpan.FromMilliseconds(1));
        channels.Publish(Changed("/later")); // any publish to a channel without subscribers

        channels.BacklogChannelCount.Should().Be(1, "only the channel just published to still holds a young message");
        using var subscriber = Subscriber();
        Paths(channels.Subscribe("watcher:w1", subscriber).Backlog).Should().Equal("/later");
        channels.BacklogChannelCount.Should().Be(0);
    }
}
