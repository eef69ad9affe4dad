-- Town Lake read queries: window functions and DuckDB's own syntax.

-- title: running total of daily spend
-- expect: ok
SELECT usage_date, sum(amount_usd) AS usd, sum(sum(amount_usd)) OVER (ORDER BY usage_date) AS running_usd FROM billing_usage GROUP BY usage_date ORDER BY usage_date

-- title: 7-day moving average of estimated requests
-- expect: ok
SELECT day, sum(requests * sample_interval) AS est, avg(sum(requests * sample_interval)) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS est_7d FROM http_requests_sampled GROUP BY day ORDER BY day

-- title: top 3 accounts per region with QUALIFY
-- expect: ok
SELECT a.region, a.account_name, sum(b.amount_usd) AS usd, rank() OVER (PARTITION BY a.region ORDER BY sum(b.amount_usd) DESC) AS rnk
FROM billing_usage b JOIN accounts a USING (account_id) GROUP BY a.region, a.account_name QUALIFY rnk <= 3 ORDER BY a.region, rnk, a.account_name

-- title: GROUP BY ALL and ORDER BY ALL
-- expect: ok
SELECT plan, is_internal, count(*) FROM accounts GROUP BY ALL ORDER BY ALL

-- title: FROM-first query
-- expect: ok
FROM support_tickets SELECT category, count(*) AS n WHERE status = 'open' GROUP BY category ORDER BY n DESC, category

-- title: SELECT * EXCLUDE
-- expect: ok
SELECT * EXCLUDE (email, created_at) FROM accounts ORDER BY account_id LIMIT 25

-- title: SELECT * REPLACE
-- expect: ok
SELECT * REPLACE (round(amount_usd) AS amount_usd) FROM billing_usage ORDER BY usage_date, account_id, product LIMIT 25

-- title: COLUMNS with a regex and an aggregate
-- expect: ok
SELECT sum(COLUMNS('requests|threats|bytes')) FROM http_requests_sampled WHERE day = DATE '2026-06-30'

-- title: COLUMNS with EXCLUDE inside max
-- expect: ok
SELECT max(COLUMNS(* EXCLUDE (ticket_id, account_id))) FROM support_tickets

-- title: PIVOT statement of spend by product
-- expect: ok
PIVOT (SELECT date_trunc('month', usage_date) AS month, product, amount_usd FROM billing_usage) ON product USING sum(amount_usd) GROUP BY month

-- title: PIVOT clause with a fixed IN list
-- expect: ok
SELECT * FROM (SELECT region, plan FROM accounts) PIVOT (count(*) FOR plan IN ('free', 'pro', 'business', 'enterprise')) ORDER BY region

-- title: UNPIVOT statement
-- expect: ok
UNPIVOT (SELECT day, sum(queries) AS queries, sum(nxdomain) AS nxdomain FROM dns_queries_daily GROUP BY day) ON queries, nxdomain INTO NAME metric VALUE value

-- title: struct and list functions
-- expect: ok
SELECT region, list(plan ORDER BY plan)[1:3] AS first_plans, list_distinct(list(plan)) AS plans, {'region': region, 'accounts': count(*)} AS summary, struct_pack(n := count(*)).n AS n2
FROM accounts GROUP BY region ORDER BY region

-- title: list comprehension and lambdas over aggregated lists
-- expect: ok
SELECT plan, [upper(x) FOR x IN list(DISTINCT region ORDER BY region) IF x <> 'MEA'] AS regions, list_transform(list(account_id ORDER BY account_id)[1:5], lambda i: i * 10) AS ids FROM accounts GROUP BY plan ORDER BY plan

-- title: unnest of a generated list
-- expect: ok
SELECT unnest(['free', 'pro', 'business', 'enterprise']) AS plan, (SELECT count(*) FROM accounts) AS total

-- title: date functions and intervals
-- expect: ok
SELECT date_part('isodow', opened_at) AS dow, strftime(opened_at, '%H') AS hour, count(*) AS n, avg(epoch(closed_at) - epoch(opened_at)) / 3600 AS avg_hours
FROM support_tickets WHERE opened_at >= TIMESTAMP '2026-06-30' - INTERVAL 30 DAY GROUP BY ALL ORDER BY ALL

-- title: date_trunc weeks and last_day
-- expect: ok
SELECT date_trunc('week', usage_date) AS week, last_day(min(usage_date)) AS month_end, sum(amount_usd) AS usd FROM billing_usage GROUP BY week ORDER BY week

-- title: string functions on names and emails
-- expect: ok
SELECT split_part(email, '@', 2) AS email_domain, count(*) AS n, min(length(account_name)) AS shortest, max(upper(left(account_name, 3))) AS prefix FROM accounts GROUP BY email_domain ORDER BY n DESC, email_domain LIMIT 10

-- title: regexp and string aggregation
-- expect: ok
SELECT regexp_extract(domain_name, '\.([a-z]+)$', 1) AS tld, count(*) AS n, string_agg(DISTINCT status, ',' ORDER BY status) AS statuses FROM domains GROUP BY tld ORDER BY n DESC, tld

-- title: arg_max and min_by
-- expect: ok
SELECT plan, arg_max(account_name, created_at) AS newest, min_by(account_name, created_at) AS oldest FROM accounts GROUP BY plan ORDER BY plan

-- title: percentiles and approximate distinct counts
-- expect: ok
SELECT product, quantile_cont(amount_usd, 0.9) AS p90, approx_count_distinct(account_id) >= 0 AS ok FROM billing_usage GROUP BY product ORDER BY product

-- title: DISTINCT ON the latest ticket per account
-- expect: ok
SELECT DISTINCT ON (account_id) account_id, ticket_id, status FROM support_tickets ORDER BY account_id, opened_at DESC, ticket_id DESC

-- title: positional GROUP BY and ORDER BY
-- expect: ok
SELECT status, priority, count(*) FROM support_tickets GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2

-- title: lateral column aliases
-- expect: ok
SELECT day, sum(requests) AS req, sum(cached_requests) AS cached, cached / req AS ratio FROM http_requests_sampled GROUP BY day ORDER BY day DESC LIMIT 7

-- title: ASOF join of tickets to the latest billing day
-- expect: ok
SELECT t.ticket_id, b.usage_date, b.usd FROM support_tickets t ASOF JOIN (SELECT account_id, usage_date, sum(amount_usd) AS usd FROM billing_usage GROUP BY ALL) b ON t.account_id = b.account_id AND t.opened_at::DATE >= b.usage_date ORDER BY t.ticket_id LIMIT 20

-- title: window with named window and ntile
-- expect: ok
SELECT account_id, usd, ntile(4) OVER w AS quartile, percent_rank() OVER w AS pr FROM (SELECT account_id, sum(amount_usd) AS usd FROM billing_usage GROUP BY account_id) WINDOW w AS (ORDER BY usd, account_id) ORDER BY account_id LIMIT 30

-- title: UNION BY NAME
-- expect: ok
SELECT region, count(*) AS accounts FROM accounts GROUP BY region UNION ALL BY NAME SELECT count(*) AS accounts, 'ALL' AS region FROM accounts ORDER BY region

-- title: CASE buckets and casts
-- expect: ok
SELECT CASE WHEN usd >= 10000 THEN 'large' WHEN usd >= 1000 THEN 'medium' ELSE 'small' END AS bucket, count(*) AS accounts, CAST(sum(usd) AS BIGINT) AS usd
FROM (SELECT account_id, sum(amount_usd) AS usd FROM billing_usage GROUP BY account_id) GROUP BY bucket ORDER BY bucket

-- title: whole-row to_json
-- expect: ok
SELECT to_json(d) AS j FROM domains d ORDER BY domain_id LIMIT 5

-- title: JSON extraction
-- expect: ok
SELECT json_extract_string(to_json({'plan': plan, 'region': region}), '$.region') AS region, count(*) FROM accounts GROUP BY 1 ORDER BY 1
