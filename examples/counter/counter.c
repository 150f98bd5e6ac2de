/* Counter: one u64 in storage.
 *
 * Entry points:
 *   entrypoint        add 1, or the u64 parameter if one is given; fires
 *                     "Incremented" (data: the new value) and returns the new value.
 *                     Exit 3 (TOS_EXIT_OVERFLOW) if the sum would overflow a u64.
 *   get               return the value (8 bytes LE; 0 if never set).
 *   reset             delete the key; exit 5 (TOS_EXIT_NOT_FOUND) if it was not set.
 *
 *   tbpf chain invoke <contract> --param u64:5
 *   tbpf chain invoke <contract> --entry get
 */
#include <tos/tos.h>

static const char KEY[] = "count";
#define KEY_LEN (sizeof(KEY) - 1)

TOS_ENTRY(entrypoint) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    u64 step = 1;
    if (input_len != 0) {
        step = tos_read_u64(&in);
        if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;
    }

    u64 count;
    tos_storage_get_u64(KEY, KEY_LEN, &count);
    if (!tos_add_u64(count, step, &count)) return TOS_EXIT_OVERFLOW;
    tos_storage_put_u64(KEY, KEY_LEN, count);

    u8 topic[TOS_HASH_SIZE];
    tos_topic(topic, "Incremented");
    u8 data[8];
    tos_store_u64le(data, count);
    tos_fire_event(topic, 1, data, sizeof(data));

    tos_return_u64(count);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(get) {
    if (input_len != 0) return TOS_EXIT_BAD_INPUT;
    u64 count;
    tos_storage_get_u64(KEY, KEY_LEN, &count);
    tos_return_u64(count);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(reset) {
    if (input_len != 0) return TOS_EXIT_BAD_INPUT;
    if (tos_storage_delete(KEY, KEY_LEN) == TOS_NOT_FOUND) return TOS_EXIT_NOT_FOUND;
    TOS_LOG("counter reset");
    return TOS_EXIT_SUCCESS;
}
