-- wrk script: full OAuth code flows, three chained requests each:
--   GET /oauth/authorize (pre-made session cookie) -> 302 Location ...code=...
--   POST /oauth/token (authorization_code)         -> 200 {"access_token": ...}
--   GET /api/v4/user (Bearer)                      -> 200, one flow done ("flow" in the counts)
-- Every answer says what comes next (a code, an access token, a user), so each thread keeps a
-- queue of next requests: response() queues the follow-up, request() takes one, or starts a new
-- flow with the next session (round-robin over this thread's lines of BENCH_SESSIONS) when the
-- queue is empty. A failed step ends its flow (counted by status).
--
-- Environment: BENCH_SESSIONS, BENCH_THREADS, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET,
--              BENCH_REDIRECT_URI, BENCH_SCOPE (url-encoded), BENCH_STATUS_FILE

local threads = {}
local next_id = 0
function setup(thread)
    next_id = next_id + 1
    thread:set("id", next_id)
    table.insert(threads, thread)
end

local function urlencode(s)
    return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

counts = {}
local sessions, k, queue = {}, 0, {}
local authorize_path, token_fixed
local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }
function init(args)
    local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
    local i = 0
    for line in io.lines(os.getenv("BENCH_SESSIONS")) do
        if (i % nthreads) + 1 == id then table.insert(sessions, line) end
        i = i + 1
    end
    local client_id = os.getenv("BENCH_CLIENT_ID")
    local redirect = os.getenv("BENCH_REDIRECT_URI")
    authorize_path = "/oauth/authorize?response_type=code&client_id=" .. urlencode(client_id) ..
        "&redirect_uri=" .. urlencode(redirect) .. "&scope=" .. (os.getenv("BENCH_SCOPE") or "read_user") .. "&state=x"
    token_fixed = "&redirect_uri=" .. urlencode(redirect) .. "&client_id=" .. urlencode(client_id) ..
        "&client_secret=" .. urlencode(os.getenv("BENCH_CLIENT_SECRET"))
end

local function count(key) counts[key] = (counts[key] or 0) + 1 end

function request()
    local nxt = table.remove(queue, 1)
    if nxt then return nxt end
    k = k % #sessions + 1
    return wrk.format("GET", authorize_path, { ["Cookie"] = "drawbridge_session=" .. sessions[k] })
end

function response(status, headers, body)
    count(tostring(status))
    if status == 302 then
        local loc = headers["Location"] or headers["location"] or ""
        local code = loc:match("[?&]code=([^&]+)")
        if code then
            table.insert(queue, wrk.format("POST", "/oauth/token", form,
                "grant_type=authorization_code&code=" .. code .. token_fixed))
        else
            count("302_without_code")
        end
    elseif status == 200 then
        local access = body:match('"access_token"%s*:%s*"([^"]+)"')
        if access then
            table.insert(queue, wrk.format("GET", "/api/v4/user", { ["Authorization"] = "Bearer " .. access }))
        elseif body:find('"username"', 1, true) then
            count("flow")
        else
            count("200_unrecognised")
        end
    end
end

function done(stats, latency, requests)
    local total = {}
    for _, thread in ipairs(threads) do
        for key, v in pairs(thread:get("counts") or {}) do total[key] = (total[key] or 0) + v end
    end
    local keys = {}
    for key in pairs(total) do table.insert(keys, key) end
    table.sort(keys)
    local out = os.getenv("BENCH_STATUS_FILE")
    local file = out and io.open(out, "a") or nil
    for _, key in ipairs(keys) do
        io.write(string.format("status %s: %d\n", key, total[key]))
        if file then file:write(string.format("%s %d\n", key, total[key])) end
    end
    if file then file:close() end
end
