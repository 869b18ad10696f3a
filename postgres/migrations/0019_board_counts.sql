-- The board's plates and its count of closings rated 不满意 read a few rows
-- among all the cases: without these, each drawing of the board walked
-- every open case (for the listed ones) and every closed case's document
-- (for its rating), 600 ms at 300,000 cases.
CREATE INDEX cases_listed ON cases (opened_at DESC, id DESC) WHERE listed;
CREATE INDEX cases_public_rating ON cases ((doc -> 'public' ->> 'rating'), status)
    WHERE (doc -> 'public' ->> 'rating') IS NOT NULL;
