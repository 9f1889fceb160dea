/* Writes the seed corpus of fuzz_wire into the directory given: one file
 * per message type (frame payloads, without the 4-byte length header, as
 * vg_wire_decode takes them) and one stored record of each kind. Made with
 * the encoders, so that the seeds follow docs/protocol.md; run it again
 * when the schema changes:
 *   ninja -C build fuzz/fuzz_wire_corpus && build/fuzz/fuzz_wire_corpus fuzz/corpus/wire
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/syslog.h"
#include "vigil/wire.h"

static const char *dir;

static void save(const char *name, const msgpack_sbuffer *sb, size_t skip)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(sb->data + skip, 1, sb->size - skip, f) != sb->size - skip || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void event_of(const char *line, vg_event *ev)
{
    vg_syslog_opts o = {.now_us = INT64_C(1732500847000000)};
    vg_syslog_parse(line, strlen(line), &o, ev);
    ev->src = vg_str_c("10.20.0.5:514");
    ev->agency = vg_str_c("aviation");
    ev->site = vg_str_c("tan-son-nhat");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    msgpack_sbuffer sb;
    size_t start;

    msgpack_sbuffer_init(&sb);
    vg_wire_frame_hello(&sb, "collector", "col-hn01", UINT64_C(0x1234567890), 42);
    save("hello", &sb, VG_FRAME_HDR);
    msgpack_sbuffer_clear(&sb);

    vg_wire_frame_ack(&sb, UINT64_C(4294967296));
    save("ack", &sb, VG_FRAME_HDR);
    msgpack_sbuffer_clear(&sb);

    vg_stat st[] = {{"received", 1000}, {"dropped.malformed", 3}, {"", 0}};
    vg_wire_frame_stats(&sb, "shipper", st, 3);
    save("stats", &sb, VG_FRAME_HDR);
    msgpack_sbuffer_clear(&sb);

    vg_event ev[3];
    event_of("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 "
             "[a@1 x=\"y\\]\"] \xEF\xBB\xBF'su root' failed",
             &ev[0]);
    event_of("<86>Nov 25 02:14:09 bastion-hn01 sshd[20313]: Invalid user oracle", &ev[1]);
    event_of("<999>garbage", &ev[2]);
    msgpack_sbuffer rec;
    msgpack_sbuffer_init(&rec);
    vg_wire_batch_begin(&sb, VG_MSG_EVENTS, 17, 3, &start);
    for (int i = 0; i < 3; i++) {
        msgpack_sbuffer_clear(&rec);
        vg_wire_pack_event(&rec, &ev[i]);
        vg_wire_batch_add(&sb, rec.data, rec.size);
    }
    vg_wire_batch_end(&sb, start);
    save("events", &sb, VG_FRAME_HDR);
    msgpack_sbuffer_clear(&sb);
    save("event-record", &rec, 0);

    vg_alert al = {
        .id = vg_str_c("5735151bd8aa74ca0000000000000003"),
        .rule_id = vg_str_c("ssh.bruteforce"),
        .rule_name = vg_str_c("SSH brute force from one source"),
        .kind = vg_str_c("event_count"),
        .level = 10,
        .ts_us = INT64_C(1732500857000000),
        .first_us = INT64_C(1732500849000000),
        .count = 6,
        .host = vg_str_c("bastion-hn01"),
        .app = vg_str_c("sshd"),
        .src = vg_str_c("10.20.0.5"),
        .agency = vg_str_c("aviation"),
        .site = vg_str_c("tan-son-nhat"),
        .message = vg_str_c("Failed password for invalid user ubuntu from 185.220.101.34"),
        .nfields = 2,
        .fields = {{vg_str_c("src_ip"), vg_str_c("185.220.101.34")},
                   {vg_str_c("user"), vg_str_c("ubuntu")}},
        .ntags = 2,
        .tags = {vg_str_c("attack.credential_access"), vg_str_c("attack.t1110.001")},
        .nraw = 1,
        .raw = {vg_str_c("<86>Nov 25 02:14:17 bastion-hn01 sshd[20330]: Failed password")},
    };
    msgpack_sbuffer_clear(&rec);
    vg_wire_pack_alert(&rec, &al);
    save("alert-record", &rec, 0);
    vg_wire_batch_begin(&sb, VG_MSG_ALERTS, 3, 1, &start);
    vg_wire_batch_add(&sb, rec.data, rec.size);
    vg_wire_batch_end(&sb, start);
    save("alerts", &sb, VG_FRAME_HDR);

    msgpack_sbuffer_destroy(&rec);
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
