/* tinyhttp: the smallest HTTP server that passes the agent's health check — what bench/many supervises 100 of.
 * Listens on 127.0.0.1:$PORT, answers every connection with one "200 ok" (Connection: close), one request at a time,
 * blocked in accept() between requests: an idle copy uses no CPU, ~1 MB RSS. Build: cc -O2 -o tinyhttp tinyhttp.c */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    const char *port = getenv("PORT");
    if (port == NULL) { fprintf(stderr, "tinyhttp: PORT is not set\n"); return 2; }
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port)) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0) { perror("tinyhttp: bind/listen"); return 1; }
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
    char buf[4096];
    for (;;) {
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) continue;
        /* read until the end of the request head (or EOF / error), then answer */
        size_t have = 0;
        for (;;) {
            ssize_t n = read(c, buf + have, sizeof buf - 1 - have);
            if (n <= 0) break;
            have += (size_t)n;
            buf[have] = 0;
            if (strstr(buf, "\r\n\r\n") != NULL || have >= sizeof buf - 1) break;
        }
        ssize_t w = write(c, reply, sizeof reply - 1);
        (void)w;
        close(c);
    }
}
