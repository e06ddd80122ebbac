#!lua name=sse_bridge
-- The Redis function library of sse-bridge (Redis 7 functions). Every bridge loads it at start
-- with FUNCTION LOAD REPLACE, after this first line a line of its own that sets PREFIX (its
-- journal_prefix), DEFAULT_TRIM and LEASE_TTL; loading the same text again changes nothing.
--
--   FCALL sse_publish 1 <channel> <payload>
--     journals a message on <channel> once, however many bridges run: XADD to the channel's
--     journal (PREFIX .. channel) with the trim the bridges registered for it (the route's
--     journal or journal_age), else DEFAULT_TRIM. Every bridge reads the journal (XREAD), so
--     the XADD is the notification; returns the entry id, which is the event's SSE id.
--
-- The other functions are the bridges' own: a lease per journal (one writer of plain PUBLISHes
-- among all bridges) and the fenced append of that writer.
local VERSION = 1

-- A trim spec: "MAXLEN <n>", "AGE <ms>" (MINID ~ now - ms, by Redis's clock) or "" (none).
local function xadd(key, spec, fields)
    local args = {'XADD', key}
    local kind, n = string.match(spec or '', '^(%u+) (%d+)$')
    if kind == 'MAXLEN' then
        args[#args + 1] = 'MAXLEN'
        args[#args + 1] = '~'
        args[#args + 1] = n
    elseif kind == 'AGE' then
        local t = redis.call('TIME')
        local min = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(n)
        if min < 0 then min = 0 end
        args[#args + 1] = 'MINID'
        args[#args + 1] = '~'
        args[#args + 1] = string.format('%.0f', min)
    end
    args[#args + 1] = '*'
    for i = 1, #fields do args[#args + 1] = fields[i] end
    return redis.call(unpack(args))
end

-- KEYS: the channel. ARGV: the payload. Returns the entry id.
local function sse_publish(keys, args)
    if #keys ~= 1 or #args ~= 1 then
        return redis.error_reply('ERR usage: FCALL sse_publish 1 <channel> <payload>')
    end
    local key = PREFIX .. keys[1]
    local spec = redis.call('HGET', PREFIX, key)
    if not spec then spec = DEFAULT_TRIM end
    return xadd(key, spec, {'c', keys[1], 'p', args[1]})
end

-- KEYS: lease keys. ARGV: token, ttl (ms), then a journal key and its trim spec per lease key.
-- Per key: 0 another bridge holds it; 1 renewed (it was this token's); 2 taken, the journal
-- is new; 3 taken, the journal exists (its last writer's lease expired or was released).
local function sse_lease(keys, args)
    local out = {}
    for i, k in ipairs(keys) do
        local journal, spec = args[1 + 2 * i], args[2 + 2 * i]
        local holder = redis.call('GET', k)
        if holder == args[1] then
            redis.call('PEXPIRE', k, args[2])
            out[i] = 1
        elseif not holder then
            redis.call('SET', k, args[1], 'PX', args[2])
            redis.call('HSET', PREFIX, journal, spec)
            out[i] = redis.call('EXISTS', journal) == 1 and 3 or 2
        else
            out[i] = 0
        end
    end
    return out
end

-- KEYS: lease keys. ARGV: token. Deletes those this token holds; returns how many.
local function sse_release(keys, args)
    local n = 0
    for _, k in ipairs(keys) do
        if redis.call('GET', k) == args[1] then
            redis.call('DEL', k)
            n = n + 1
        end
    end
    return n
end

-- KEYS: the journal, its lease. ARGV: token, trim spec, "take", then the entry's fields and
-- values. Fencing: a writer that lost its lease (paused past it, say) writes nothing. With
-- "take" = "1" (a bridge that does not know who writes this journal yet) a free lease is taken
-- by this write, so that the first message of a new channel is not lost to the lease's tick.
local function sse_append(keys, args)
    local holder = redis.call('GET', keys[2])
    if holder ~= args[1] then
        if holder or args[3] ~= '1' then
            return redis.error_reply('NOTHOLDER the lease of ' .. keys[1] .. ' is another bridge\'s')
        end
        redis.call('SET', keys[2], args[1], 'PX', LEASE_TTL)
    end
    local fields = {}
    for i = 4, #args do fields[#fields + 1] = args[i] end
    return xadd(keys[1], args[2], fields)
end

local function sse_bridge_version()
    return VERSION
end

redis.register_function('sse_publish', sse_publish)
redis.register_function('sse_lease', sse_lease)
redis.register_function('sse_release', sse_release)
redis.register_function('sse_append', sse_append)
redis.register_function{function_name = 'sse_bridge_version', callback = sse_bridge_version,
                        flags = {'no-writes'}}
