-- Alder & Finch: a (fictional) online retailer's sales database, 2024-01-01 .. 2025-09-30.
--
-- Deterministic: every "random" choice is u(key, salt), an integer hash of a row key mapped to
-- [0, 1), so rebuilding gives identical data (no random(); no hash(), whose values DuckDB does
-- not promise to keep across versions). Built and checked with DuckDB 2.0.1.
-- The data is a snapshot taken at the end of 2025-09-30 (UTC): nothing happens after that.
--
-- Build (from the repository root; delete the .duckdb file first):
--   .venv/bin/python -c "import duckdb; c=duckdb.connect('evals/heldout/data/shop.duckdb', \
--     config={'default_block_size': '16384'}); c.execute(open('evals/heldout/data/shop.sql').read())"
-- The 16 KiB block size only keeps the file small (about 0.9 MB): DuckDB gives every table at
-- least one block of its own, so with the default 256 KiB blocks the 8 tables take about 2.5 MB.
-- Without the config the data is identical, the file is just bigger.

CREATE TEMP MACRO fx(h, s) AS xor(h, h >> s);
CREATE TEMP MACRO mm(h, m) AS ((h::HUGEINT * m) % 4294967296)::BIGINT;
CREATE TEMP MACRO u(k, salt) AS
    fx(mm(fx(mm(fx(mm(k::BIGINT * 7919 + salt::BIGINT * 1000003 + 1, 2654435761), 15),
                2246822507), 13), 3266489909), 16) / 4294967296.0;
CREATE TEMP MACRO pick(list, x) AS list[1 + floor(x * len(list))::INTEGER];

-- ---------------------------------------------------------------------------------------------
-- countries: the countries the shop sells to (a lookup; some have no customers yet)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE countries (
    country_code VARCHAR PRIMARY KEY,
    country_name VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    is_eu BOOLEAN NOT NULL,
    currency_code VARCHAR NOT NULL,
    warehouse VARCHAR NOT NULL
);
INSERT INTO countries VALUES
    ('US', 'United States', 'North America', false, 'USD', 'Columbus'),
    ('CA', 'Canada', 'North America', false, 'CAD', 'Columbus'),
    ('MX', 'Mexico', 'Latin America', false, 'MXN', 'Columbus'),
    ('BR', 'Brazil', 'Latin America', false, 'BRL', 'Columbus'),
    ('AR', 'Argentina', 'Latin America', false, 'ARS', 'Columbus'),
    ('GB', 'United Kingdom', 'Europe', false, 'GBP', 'Rotterdam'),
    ('DE', 'Germany', 'Europe', true, 'EUR', 'Rotterdam'),
    ('FR', 'France', 'Europe', true, 'EUR', 'Rotterdam'),
    ('ES', 'Spain', 'Europe', true, 'EUR', 'Rotterdam'),
    ('IT', 'Italy', 'Europe', true, 'EUR', 'Rotterdam'),
    ('NL', 'Netherlands', 'Europe', true, 'EUR', 'Rotterdam'),
    ('BE', 'Belgium', 'Europe', true, 'EUR', 'Rotterdam'),
    ('AT', 'Austria', 'Europe', true, 'EUR', 'Rotterdam'),
    ('CH', 'Switzerland', 'Europe', false, 'CHF', 'Rotterdam'),
    ('PL', 'Poland', 'Europe', true, 'PLN', 'Rotterdam'),
    ('SE', 'Sweden', 'Europe', true, 'SEK', 'Rotterdam'),
    ('NO', 'Norway', 'Europe', false, 'NOK', 'Rotterdam'),
    ('IE', 'Ireland', 'Europe', true, 'EUR', 'Rotterdam'),
    ('JP', 'Japan', 'Asia Pacific', false, 'JPY', 'Rotterdam'),
    ('AU', 'Australia', 'Asia Pacific', false, 'AUD', 'Rotterdam');

-- Share of customers per country (countries missing here have no customers), and their cities.
CREATE TEMP TABLE country_mix AS
SELECT * FROM (VALUES
    ('US', 24, ['New York', 'Los Angeles', 'Chicago', 'Austin', 'Seattle', 'Miami']),
    ('DE', 13, ['Berlin', 'München', 'Köln', 'Hamburg', 'Düsseldorf']),
    ('FR', 11, ['Paris', 'Lyon', 'Marseille', 'Nantes', 'Besançon']),
    ('GB', 10, ['London', 'Manchester', 'Edinburgh', 'Bristol']),
    ('BR', 8, ['São Paulo', 'Rio de Janeiro', 'Belo Horizonte', 'Brasília', 'Curitiba']),
    ('JP', 6, ['Tokyo', 'Osaka', 'Kyoto', 'Sapporo']),
    ('CA', 5, ['Toronto', 'Montréal', 'Vancouver', 'Québec']),
    ('ES', 5, ['Madrid', 'Barcelona', 'Málaga', 'Sevilla']),
    ('IT', 4, ['Roma', 'Milano', 'Torino', 'Napoli']),
    ('NL', 4, ['Amsterdam', 'Rotterdam', 'Utrecht']),
    ('CH', 3, ['Zürich', 'Genève', 'Basel']),
    ('MX', 2, ['Ciudad de México', 'Guadalajara', 'Monterrey']),
    ('PL', 2, ['Warszawa', 'Kraków', 'Gdańsk']),
    ('SE', 1, ['Stockholm', 'Göteborg', 'Malmö']),
    ('AU', 1, ['Sydney', 'Melbourne']),
    ('AT', 0.6, ['Wien', 'Graz']),
    ('BE', 0.4, ['Bruxelles', 'Antwerpen', 'Liège'])
) t(country_code, weight, cities);

CREATE TEMP TABLE country_cdf AS
SELECT country_code, cities,
       (sum(weight) OVER (ORDER BY weight DESC, country_code) - weight) / sum(weight) OVER () AS lo,
       sum(weight) OVER (ORDER BY weight DESC, country_code) / sum(weight) OVER () AS hi
FROM country_mix;

-- ---------------------------------------------------------------------------------------------
-- customers
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE customer_draw AS
SELECT i,
       TIMESTAMP '2024-01-01 00:00:00'
         + to_seconds((CASE
             WHEN u(i, 1) < 0.07 THEN 45 * u(i, 2)                  -- launch campaign
             ELSE 639 * (0.04 + 0.96 * sqrt(u(i, 3)))               -- growing signups
           END * 86400)::BIGINT) AS signup_at,
       u(i, 4) AS r_country, u(i, 5) AS r_city, u(i, 6) AS r_segment, u(i, 7) AS r_internal,
       u(i, 8) AS r_first, u(i, 9) AS r_last, u(i, 10) AS r_mail, u(i, 11) AS r_optin
FROM range(1, 2401) t(i);

CREATE TABLE customers AS
WITH numbered AS (
    SELECT d.*, c.country_code, c.cities,
           row_number() OVER (ORDER BY d.signup_at, d.i) AS customer_id
    FROM customer_draw d
    JOIN country_cdf c ON d.r_country >= c.lo AND d.r_country < c.hi
), named AS (
    SELECT *,
           r_internal < 0.0125 AS is_internal,
           CASE WHEN r_internal >= 0.0125 AND r_segment < 0.18 THEN 'business' ELSE 'consumer' END
               AS segment,
           pick(['Anna', 'Lucas', 'Sofia', 'Noah', 'Emma', 'Liam', 'Mia', 'Mateo', 'Léa', 'Hugo',
                 'Chloé', 'José', 'María', 'João', 'Zoë', 'Jürgen', 'Łukasz', 'Søren', 'Yuki',
                 'Haruto', 'Olivia', 'James', 'Ava', 'Ethan', 'Giulia', 'Marco', 'Lena', 'Felix',
                 'Inès', 'Gabriel', 'Camila', 'Diego', 'Hannah', 'Oskar', 'Aiko', 'Ren', 'Sara',
                 'David', 'Julia', 'Tomás'], r_first) AS first_name,
           pick(['Müller', 'García', 'Silva', 'Smith', 'Martin', 'Rossi', 'Tanaka', 'Dubois',
                 'Schmidt', 'Kowalski', 'Johnson', 'Santos', 'Fernández', 'Bernard', 'Jansen',
                 'Andersson', 'Brown', 'Suzuki', 'Ferrari', 'Lefèvre', 'Weber', 'Oliveira',
                 'Nowak', 'Williams', 'Lopez', 'Moreau', 'De Vries', 'Fischer', 'Costa',
                 'Sato', 'Wilson', 'Romano', 'Pereira', 'Becker', 'Taylor', 'Gómez', 'Bianchi',
                 'Lindqvist', 'Wagner', 'Roux'], r_last) AS last_name
    FROM numbered
)
SELECT
    customer_id::INTEGER AS customer_id,
    CASE
        WHEN is_internal THEN
            CASE WHEN r_segment < 0.5 THEN 'QA Test Account ' || lpad(customer_id::VARCHAR, 4, '0')
                 ELSE first_name || ' ' || last_name || ' (staff)' END
        WHEN segment = 'business' THEN last_name || ' ' || CASE country_code
            WHEN 'DE' THEN 'GmbH' WHEN 'AT' THEN 'GmbH' WHEN 'CH' THEN 'AG'
            WHEN 'FR' THEN 'SARL' WHEN 'BE' THEN 'SPRL' WHEN 'BR' THEN 'Ltda.'
            WHEN 'GB' THEN 'Ltd' WHEN 'JP' THEN 'K.K.' WHEN 'ES' THEN 'S.L.'
            WHEN 'IT' THEN 'S.r.l.' WHEN 'NL' THEN 'B.V.' WHEN 'PL' THEN 'sp. z o.o.'
            WHEN 'AU' THEN 'Pty Ltd' WHEN 'MX' THEN 'S.A. de C.V.' WHEN 'SE' THEN 'AB'
            ELSE 'Inc.' END
        ELSE first_name || ' ' || last_name
    END AS customer_name,
    lower(replace(strip_accents(CASE WHEN segment = 'business' AND NOT is_internal
                                     THEN 'orders.' || last_name
                                     ELSE first_name || '.' || last_name END), ' ', ''))
        || customer_id::VARCHAR || '@'
        || CASE WHEN is_internal THEN 'alderfinch.example'
                ELSE pick(['example.com', 'example.net', 'example.org', 'mail.example'], r_mail)
           END AS email,
    segment,
    country_code,
    pick(cities, r_city) AS city,
    signup_at,
    is_internal,
    r_optin < 0.55 AS accepts_marketing
FROM named
ORDER BY customer_id;

-- ---------------------------------------------------------------------------------------------
-- products: 7 categories; ids 1-90 are launch products always on sale, later ids launched later
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE product_nouns AS
SELECT * FROM (VALUES
    ('Electronics', 'ELE', 'Wireless Headphones', 129, ['Voltara', 'Nordvik Audio']),
    ('Electronics', 'ELE', 'Bluetooth Speaker', 79, ['Nordvik Audio', 'Voltara']),
    ('Electronics', 'ELE', 'Smartwatch', 219, ['Pixelon']),
    ('Electronics', 'ELE', 'Power Bank', 39, ['Voltara', 'Pixelon']),
    ('Electronics', 'ELE', 'E-Reader', 149, ['Pixelon']),
    ('Electronics', 'ELE', 'Mechanical Keyboard', 99, ['Pixelon', 'Voltara']),
    ('Home & Kitchen', 'HOM', 'Coffee Grinder', 69, ['Casa Ferro']),
    ('Home & Kitchen', 'HOM', 'Chef''s Knife', 89, ['Casa Ferro', 'Kettlewood']),
    ('Home & Kitchen', 'HOM', 'Cast Iron Skillet', 49, ['Kettlewood']),
    ('Home & Kitchen', 'HOM', 'Electric Kettle', 59, ['Kettlewood', 'Casa Ferro']),
    ('Home & Kitchen', 'HOM', 'Linen Bedding Set', 149, ['Maison Élan']),
    ('Home & Kitchen', 'HOM', 'Table Lamp', 79, ['Maison Élan', 'Casa Ferro']),
    ('Clothing', 'CLO', 'Rain Jacket', 149, ['Fjellrev']),
    ('Clothing', 'CLO', 'Merino Sweater', 99, ['Fjellrev', 'Lumen & Loom']),
    ('Clothing', 'CLO', 'Linen Shirt', 59, ['Lumen & Loom']),
    ('Clothing', 'CLO', 'Denim Jeans', 79, ['Lumen & Loom']),
    ('Clothing', 'CLO', 'Running Shorts', 35, ['Summit Trail', 'Fjellrev']),
    ('Clothing', 'CLO', 'Wool Beanie', 25, ['Fjellrev']),
    ('Sports & Outdoors', 'SPO', 'Yoga Mat', 45, ['Aquilo']),
    ('Sports & Outdoors', 'SPO', 'Trail Backpack', 119, ['Summit Trail']),
    ('Sports & Outdoors', 'SPO', 'Insulated Water Bottle', 29, ['Aquilo', 'Summit Trail']),
    ('Sports & Outdoors', 'SPO', 'Two-Person Tent', 249, ['Summit Trail']),
    ('Sports & Outdoors', 'SPO', 'Trekking Poles', 69, ['Summit Trail']),
    ('Beauty', 'BEA', 'Face Serum', 39, ['Bloom Botanica', 'Maison Élan']),
    ('Beauty', 'BEA', 'Shampoo Bar', 12, ['Bloom Botanica']),
    ('Beauty', 'BEA', 'Hand Cream', 15, ['Bloom Botanica', 'Maison Élan']),
    ('Beauty', 'BEA', 'Mineral Sunscreen', 22, ['Bloom Botanica']),
    ('Books', 'BOO', 'Cookbook', 32, ['Larkspur Press']),
    ('Books', 'BOO', 'City Travel Guide', 24, ['Meridian Books']),
    ('Books', 'BOO', 'Hardcover Novel', 27, ['Larkspur Press', 'Meridian Books']),
    ('Toys & Games', 'TOY', 'Strategy Board Game', 49, ['Ludo & Co']),
    ('Toys & Games', 'TOY', '1000-Piece Puzzle', 22, ['Ludo & Co', 'Tinker Town']),
    ('Toys & Games', 'TOY', 'Wooden Building Set', 59, ['Tinker Town']),
    ('Toys & Games', 'TOY', 'Plush Bear', 25, ['Tinker Town'])
) t(category, category_code, noun, base_price, brands);

CREATE TEMP TABLE product_variants AS
SELECT * FROM (VALUES
    (1, 'Classic', 1.00), (2, 'Lite', 0.75), (3, 'Pro', 1.45), (4, 'Mini', 0.60), (5, 'Max', 1.80)
) t(variant_no, variant, price_factor);

CREATE TEMP TABLE product_draw AS
SELECT n.*, v.variant_no, v.variant, v.price_factor,
       row_number() OVER (ORDER BY n.noun, v.variant_no) AS k
FROM product_nouns n CROSS JOIN product_variants v;

CREATE TEMP TABLE product_kept AS
SELECT *,
       -- Classic and Lite of every noun are in the launch catalogue; the rest partly launched later
       CASE WHEN variant_no <= 2 OR u(k, 21) < 0.55 THEN 0 ELSE 1 END AS later,
       u(k, 22) AS r_launch, u(k, 23) AS r_brand, u(k, 24) AS r_cost, u(k, 26) AS r_delist
FROM product_draw
WHERE variant_no <= 2 OR u(k, 20) < 0.8;

CREATE TABLE products AS
WITH dated AS (
    SELECT *,
           CASE WHEN later = 0 THEN DATE '2024-01-01'
                ELSE DATE '2024-02-01' + (floor(r_launch * 560))::INTEGER END AS launched_on
    FROM product_kept
), numbered AS (
    SELECT *, row_number() OVER (ORDER BY later, CASE WHEN later = 0 THEN r_delist END,
                                 launched_on, k) AS product_id
    FROM dated
)
SELECT
    product_id::INTEGER AS product_id,
    category_code || '-' || lpad(product_id::VARCHAR, 4, '0') AS sku,
    pick(brands, r_brand) || ' ' || noun || ' ' || variant AS product_name,
    category,
    pick(brands, r_brand) AS brand,
    (round(base_price * price_factor) - 0.01)::DECIMAL(10, 2) AS list_price,
    round((round(base_price * price_factor) - 0.01) * (0.42 + 0.25 * r_cost), 2)::DECIMAL(10, 2)
        AS unit_cost,
    launched_on,
    -- a few launch products were delisted in 2025 (ids 91 and up of the launch catalogue)
    CASE WHEN later = 0 AND product_id > 90 AND r_delist > 0.93
         THEN DATE '2025-03-01' + (floor(u(k, 27) * 150))::INTEGER END AS delisted_on
FROM numbered
ORDER BY product_id;

-- ---------------------------------------------------------------------------------------------
-- orders, order_items, shipments, returns
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE order_days AS
SELECT d, DATE '2024-01-01' + d AS day,
       greatest(0, round(
           (3.0 + 11.0 * d / 639.0)                                        -- growth
           * CASE WHEN month(DATE '2024-01-01' + d) IN (11, 12) THEN 1.5   -- holiday season
                  WHEN month(DATE '2024-01-01' + d) IN (7, 8) THEN 0.85 ELSE 1.0 END
           * CASE WHEN DATE '2024-01-01' + d BETWEEN DATE '2024-11-29' AND DATE '2024-12-02'
                  THEN 2.6 ELSE 1.0 END                                    -- Black Friday weekend
           * CASE dayofweek(DATE '2024-01-01' + d) WHEN 0 THEN 1.15 WHEN 6 THEN 0.9 ELSE 1.0 END
           * (0.7 + 0.6 * u(d, 30))))::INTEGER AS n_orders
FROM (SELECT range::INTEGER AS d FROM range(0, 639));

CREATE TEMP TABLE order_draw AS
SELECT d * 1000 + j AS k,
       day::TIMESTAMP + to_seconds(
           CASE WHEN u(d * 1000 + j, 31) < 0.12 THEN floor(u(d * 1000 + j, 32) * 25200)
                ELSE 25200 + floor(u(d * 1000 + j, 32) * 61199) END::BIGINT) AS ordered_at
FROM order_days, range(0, n_orders) r(j);

CREATE TEMP TABLE order_base AS
WITH numbered AS (
    SELECT k, ordered_at, 100000 + row_number() OVER (ORDER BY ordered_at, k) AS order_id
    FROM order_draw
), eligible AS (
    -- the newest customer that had signed up when the order was placed
    SELECT n.*, c.customer_id AS newest_customer
    FROM numbered n ASOF JOIN customers c ON n.ordered_at >= c.signup_at
)
SELECT e.order_id, e.ordered_at, c.customer_id, c.segment, c.is_internal, c.country_code,
       co.region, co.warehouse
FROM eligible e
JOIN customers c
  ON c.customer_id = 1 + floor(
        -- a third of orders favour the earliest (loyal) customers, the rest come from anyone
        CASE WHEN u(e.order_id, 33) < 0.35 THEN pow(u(e.order_id, 34), 2.2)
             ELSE u(e.order_id, 34) END * e.newest_customer)::INTEGER
JOIN countries co ON co.country_code = c.country_code
WHERE c.signup_at <= e.ordered_at;

CREATE TEMP TABLE item_draw AS
SELECT o.order_id, o.ordered_at, o.segment, o.is_internal, line_number,
       o.order_id * 10 + line_number AS k,
       1 + floor(160 * pow(u(o.order_id * 10 + line_number, 41), 1.5))::INTEGER AS p
FROM order_base o,
     range(1, 1 + 1 + floor(CASE WHEN o.segment = 'business' THEN 5 ELSE 3.6 END
                           * pow(u(o.order_id, 40), 2.0))::INTEGER) r(line_number);

CREATE TEMP TABLE item_product AS
WITH first_pick AS (
    SELECT i.*, coalesce(p.product_id, 0) AS chosen,
           p.product_id IS NOT NULL AND p.launched_on <= i.ordered_at::DATE
           AND (p.delisted_on IS NULL OR p.delisted_on > i.ordered_at::DATE) AS available
    FROM item_draw i LEFT JOIN products p ON p.product_id = i.p
)
SELECT *, CASE WHEN available THEN chosen ELSE 1 + ((p - 1) % 90) END AS product_id
FROM first_pick;

CREATE TABLE order_items AS
WITH dedup AS (
    -- one line per product and order: a repeated product keeps its first line
    SELECT *, row_number() OVER (PARTITION BY order_id, product_id ORDER BY line_number) AS dup
    FROM item_product
), lines AS (
    SELECT d.order_id, d.ordered_at, d.segment, d.k, d.product_id,
           row_number() OVER (PARTITION BY d.order_id ORDER BY d.line_number) AS line_number,
           CASE WHEN d.segment = 'business' THEN 1 + floor(24 * pow(u(d.k, 42), 2.5))
                WHEN u(d.k, 42) < 0.78 THEN 1
                WHEN u(d.k, 42) < 0.95 THEN 2
                ELSE 3 END::INTEGER AS quantity,
           CASE WHEN d.ordered_at < TIMESTAMP '2025-01-01' THEN pr.list_price - round(pr.list_price * 0.04)
                ELSE pr.list_price END AS unit_price,
           u(d.k, 43) AS r_disc
    FROM dedup d JOIN products pr ON pr.product_id = d.product_id
    WHERE d.dup = 1
), priced AS (
    SELECT *,
           CASE
               WHEN ordered_at::DATE BETWEEN DATE '2024-11-25' AND DATE '2024-12-02'
                    AND r_disc < 0.65 THEN 0.20                        -- Black Friday week
               WHEN segment = 'business' AND quantity >= 10 THEN 0.10  -- volume discount
               WHEN r_disc < 0.05 THEN 0.05
               WHEN r_disc < 0.09 THEN 0.10
               WHEN r_disc < 0.11 THEN 0.15
               ELSE 0.00
           END::DECIMAL(4, 2) AS discount
    FROM lines
)
SELECT order_id::INTEGER AS order_id, line_number::INTEGER AS line_number,
       product_id::INTEGER AS product_id, quantity,
       unit_price::DECIMAL(10, 2) AS unit_price, discount,
       round(quantity * unit_price * (1 - discount), 2)::DECIMAL(12, 2) AS net_amount
FROM priced
ORDER BY order_id, line_number;

CREATE TEMP TABLE order_flow AS
WITH totals AS (
    SELECT order_id, sum(net_amount) AS subtotal, sum(quantity) AS units
    FROM order_items GROUP BY order_id
), flow AS (
    SELECT o.*, t.subtotal, t.units,
           u(o.order_id, 50) < CASE WHEN o.is_internal THEN 0.40 ELSE 0.045 END AS cancelled,
           CASE
               WHEN o.region = 'Asia Pacific' THEN CASE WHEN t.units >= 20 OR u(o.order_id, 51) < 0.25
                                                        THEN 'SHIP'
                                                        WHEN u(o.order_id, 51) < 0.85 THEN 'AIR'
                                                        ELSE 'MAIL' END
               WHEN o.region = 'Latin America' THEN CASE WHEN t.units >= 20 OR u(o.order_id, 51) < 0.15
                                                         THEN 'SHIP'
                                                         WHEN u(o.order_id, 51) < 0.65 THEN 'AIR'
                                                         ELSE 'MAIL' END
               WHEN t.units >= 20 THEN 'TRUCK'
               WHEN u(o.order_id, 51) < CASE WHEN o.region = 'North America' THEN 0.18 ELSE 0.10 END
                   THEN 'AIR'
               WHEN u(o.order_id, 51) < 0.62 THEN 'TRUCK'
               ELSE 'MAIL'
           END AS ship_mode,
           o.ordered_at + to_seconds(floor(3600 * (6 + 60 * pow(u(o.order_id, 52), 1.7)))::BIGINT)
               AS shipped_at,
           u(o.order_id, 53) AS r_transit,
           u(o.order_id, 54) < 0.006 AS lost
    FROM order_base o JOIN totals t USING (order_id)
)
SELECT *,
       shipped_at + to_seconds(floor(86400 * CASE ship_mode
           WHEN 'AIR' THEN 1 + 3 * r_transit
           WHEN 'TRUCK' THEN 2 + 4 * r_transit
           WHEN 'MAIL' THEN 3 + 9 * pow(r_transit, 1.5)
           ELSE 18 + 22 * r_transit END)::BIGINT) AS arrives_at
FROM flow;

CREATE TABLE shipments AS
SELECT (row_number() OVER (ORDER BY shipped_at, order_id))::INTEGER AS shipment_id,
       order_id::INTEGER AS order_id,
       warehouse,
       ship_mode,
       CASE ship_mode
           WHEN 'AIR' THEN CASE WHEN u(order_id, 55) < 0.6 THEN 'DHL Express' ELSE 'FedEx' END
           WHEN 'TRUCK' THEN CASE WHEN warehouse = 'Rotterdam' THEN 'DPD' ELSE 'UPS' END
           WHEN 'MAIL' THEN CASE WHEN warehouse = 'Rotterdam' THEN 'PostNL' ELSE 'USPS' END
           ELSE 'Maersk'
       END AS carrier,
       shipped_at,
       CASE WHEN NOT lost AND arrives_at <= TIMESTAMP '2025-09-30 23:59:59' THEN arrives_at END
           AS delivered_at
FROM order_flow
WHERE NOT cancelled AND shipped_at <= TIMESTAMP '2025-09-30 23:59:59'
ORDER BY shipment_id;

CREATE TABLE returns AS
WITH candidates AS (
    SELECT i.order_id, i.line_number, i.product_id, i.quantity, i.net_amount, p.category,
           s.delivered_at, i.order_id * 10 + i.line_number AS k
    FROM order_items i
    JOIN shipments s ON s.order_id = i.order_id
    JOIN products p ON p.product_id = i.product_id
    WHERE s.delivered_at IS NOT NULL
), chosen AS (
    SELECT *,
           delivered_at + to_seconds(floor(86400 * (1 + 27 * pow(u(k, 61), 1.4)))::BIGINT)
               AS returned_at,
           CASE
               WHEN category = 'Clothing' THEN pick(['wrong_size', 'wrong_size', 'wrong_size',
                   'not_as_described', 'changed_mind', 'damaged'], u(k, 62))
               WHEN category = 'Electronics' THEN pick(['defective', 'defective', 'damaged',
                   'not_as_described', 'changed_mind'], u(k, 62))
               ELSE pick(['damaged', 'changed_mind', 'not_as_described', 'wrong_item',
                   'arrived_late'], u(k, 62))
           END AS reason,
           CASE WHEN quantity > 1 AND u(k, 63) < 0.4 THEN 1 + floor(u(k, 64) * (quantity - 1))
                ELSE quantity END::INTEGER AS returned_quantity
    FROM candidates
    WHERE u(k, 60) < CASE category WHEN 'Clothing' THEN 0.16 WHEN 'Electronics' THEN 0.07
                                   ELSE 0.03 END
)
SELECT (row_number() OVER (ORDER BY returned_at, order_id, line_number))::INTEGER AS return_id,
       order_id, line_number, product_id, returned_at,
       returned_quantity AS quantity,
       reason,
       round(net_amount * returned_quantity / quantity
             * CASE WHEN reason = 'changed_mind' THEN 0.9 ELSE 1.0 END, 2)::DECIMAL(12, 2)
           AS refund_amount
FROM chosen
WHERE returned_at <= TIMESTAMP '2025-09-30 23:59:59'
ORDER BY return_id;

CREATE TABLE orders AS
SELECT f.order_id::INTEGER AS order_id,
       f.customer_id,
       f.ordered_at,
       CASE
           WHEN f.cancelled THEN 'C'
           WHEN s.order_id IS NULL THEN 'P'
           WHEN r.order_id IS NOT NULL THEN 'R'
           WHEN s.delivered_at IS NOT NULL THEN 'D'
           ELSE 'S'
       END AS status,
       CASE
           WHEN f.is_internal THEN 'web'
           WHEN f.segment = 'business' AND u(f.order_id, 70) < 0.25 THEN 'phone'
           WHEN u(f.order_id, 71) < 0.52 THEN 'web'
           WHEN u(f.order_id, 71) < 0.86 THEN 'mobile_app'
           WHEN u(f.order_id, 71) < 0.97 THEN 'marketplace'
           ELSE 'phone'
       END AS channel,
       CASE
           WHEN f.segment = 'business' AND u(f.order_id, 72) < 0.55 THEN 'bank_transfer'
           WHEN u(f.order_id, 73) < 0.62 THEN 'card'
           WHEN u(f.order_id, 73) < 0.88 THEN 'paypal'
           WHEN u(f.order_id, 73) < 0.95 THEN 'gift_card'
           ELSE 'bank_transfer'
       END AS payment_method,
       f.subtotal::DECIMAL(12, 2) AS subtotal,
       CASE WHEN f.ship_mode = 'AIR' THEN 14.99
            WHEN f.subtotal >= 50 THEN 0.00
            WHEN f.ship_mode = 'SHIP' THEN 9.99
            ELSE 4.99 END::DECIMAL(8, 2) AS shipping_fee,
       (f.subtotal + CASE WHEN f.ship_mode = 'AIR' THEN 14.99
                          WHEN f.subtotal >= 50 THEN 0.00
                          WHEN f.ship_mode = 'SHIP' THEN 9.99
                          ELSE 4.99 END)::DECIMAL(12, 2) AS order_total
FROM order_flow f
LEFT JOIN shipments s ON s.order_id = f.order_id
LEFT JOIN (SELECT DISTINCT order_id FROM returns) r ON r.order_id = f.order_id
ORDER BY f.order_id;

-- ---------------------------------------------------------------------------------------------
-- support_tickets
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE ticket_draw AS
WITH order_events AS (
    SELECT o.order_id, o.customer_id, o.status, o.ordered_at, s.shipped_at, s.delivered_at,
           ret.first_return_at,
           o.status = 'S' AND s.delivered_at IS NULL
           AND date_diff('day', s.shipped_at, TIMESTAMP '2025-09-30 23:59:59')
               > CASE WHEN s.ship_mode = 'SHIP' THEN 45 ELSE 14 END AS overdue
    FROM orders o
    LEFT JOIN shipments s USING (order_id)
    LEFT JOIN (SELECT order_id, min(returned_at) AS first_return_at FROM returns GROUP BY order_id)
        ret USING (order_id)
), about_orders AS (
    SELECT customer_id, order_id,
           CASE
               WHEN status = 'R' THEN 'return_refund'
               WHEN status = 'C' THEN pick(['order_change', 'payment'], u(order_id, 81))
               WHEN overdue THEN 'delivery'
               WHEN u(order_id, 82) < 0.45 THEN 'delivery'
               WHEN u(order_id, 82) < 0.70 THEN 'product_question'
               WHEN u(order_id, 82) < 0.85 THEN 'payment'
               ELSE 'order_change'
           END AS topic,
           CASE
               WHEN status = 'R' THEN first_return_at - to_seconds(floor(u(order_id, 83) * 86400 * 3)::BIGINT)
               WHEN status = 'C' THEN ordered_at + to_seconds(floor(u(order_id, 83) * 3600 * 20)::BIGINT)
               WHEN shipped_at IS NOT NULL
                   THEN shipped_at + to_seconds(floor(u(order_id, 83) * 86400 * 8)::BIGINT)
               ELSE ordered_at + to_seconds(floor(u(order_id, 83) * 86400)::BIGINT)
           END AS opened_at,
           overdue AS lost,
           order_id AS k
    FROM order_events
    WHERE u(order_id, 80) < CASE
        WHEN status = 'R' THEN 0.55
        WHEN overdue THEN 0.9
        WHEN status = 'C' THEN 0.25
        ELSE 0.10 END
), about_accounts AS (
    SELECT c.customer_id, NULL::INTEGER AS order_id,
           pick(['account', 'account', 'payment', 'product_question'], u(c.customer_id, 85)) AS topic,
           c.signup_at + to_seconds(floor(u(c.customer_id, 86)
               * date_diff('second', c.signup_at, TIMESTAMP '2025-09-30 23:59:59'))::BIGINT)
               AS opened_at,
           false AS lost,
           1000000 + c.customer_id AS k
    FROM customers c
    WHERE u(c.customer_id, 84) < 0.10
)
SELECT * FROM about_orders WHERE opened_at <= TIMESTAMP '2025-09-30 23:59:59'
UNION ALL
SELECT * FROM about_accounts;

CREATE TABLE support_tickets AS
WITH shaped AS (
    SELECT *,
           CASE WHEN lost THEN 'high'
                WHEN u(k, 90) < 0.05 THEN 'urgent'
                WHEN u(k, 90) < 0.24 THEN 'high'
                WHEN u(k, 90) < 0.78 THEN 'normal'
                ELSE 'low' END AS priority,
           pick(['email', 'email', 'email', 'chat', 'chat', 'phone', 'web_form'], u(k, 91))
               AS channel,
           u(k, 92) AS r_time, u(k, 94) AS r_csat, u(k, 95) AS r_rated,
           u(k, 96) < 0.25 AS waits_on_customer, u(k, 97) AS r_wait,
           u(k, 98) < 0.08 AS backlogged, u(k, 99) AS r_backlog
    FROM ticket_draw
), timed AS (
    SELECT *,
           opened_at + to_seconds(floor(3600 * (CASE priority
               WHEN 'urgent' THEN 1 + 10 * pow(r_time, 2)
               WHEN 'high' THEN 2 + 40 * pow(r_time, 2)
               WHEN 'normal' THEN 4 + 110 * pow(r_time, 2)
               ELSE 8 + 220 * pow(r_time, 2) END
               + CASE WHEN waits_on_customer THEN 24 * (1 + 19 * r_wait) ELSE 0 END
               + CASE WHEN backlogged AND priority IN ('low', 'normal')
                      THEN 24 * (5 + 40 * r_backlog) ELSE 0 END))::BIGINT)
               AS solved_at
    FROM shaped
)
SELECT (5000 + row_number() OVER (ORDER BY opened_at, k))::INTEGER AS ticket_id,
       customer_id,
       order_id::INTEGER AS order_id,
       opened_at,
       CASE WHEN solved_at <= TIMESTAMP '2025-09-30 23:59:59' THEN solved_at END AS closed_at,
       CASE
           WHEN solved_at > TIMESTAMP '2025-09-30 23:59:59' THEN
               CASE WHEN waits_on_customer THEN 'pending' ELSE 'open' END
           WHEN solved_at > TIMESTAMP '2025-09-26 23:59:59' THEN 'solved'
           ELSE 'closed'
       END AS status,
       priority,
       channel,
       topic,
       CASE WHEN solved_at <= TIMESTAMP '2025-09-30 23:59:59' AND r_rated < 0.6 THEN
           CASE WHEN r_csat < 0.08 + 0.35 * pow(r_time, 2) + CASE WHEN lost THEN 0.3 ELSE 0 END
                THEN 'bad' ELSE 'good' END
       END AS satisfaction
FROM timed
ORDER BY ticket_id;

CHECKPOINT;
