-- Reads at national scale: who may see which group, answered by indexes instead of by loading every
-- group. `group_teachers` and `school_admins` mirror the JSON lists of `groups.teachers` and
-- `schools.admins` (normalised emails), written in the same transaction as the row they mirror.
CREATE TABLE group_teachers (
    email    TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES groups(id),
    PRIMARY KEY (email, group_id)
);
CREATE INDEX group_teachers_group ON group_teachers(group_id);

CREATE TABLE school_admins (
    email     TEXT NOT NULL,
    school_id TEXT NOT NULL REFERENCES schools(id),
    PRIMARY KEY (email, school_id)
);
CREATE INDEX school_admins_school ON school_admins(school_id);

INSERT OR IGNORE INTO group_teachers (email, group_id)
    SELECT lower(trim(t.value)), g.id FROM groups g, json_each(g.teachers) t;
INSERT OR IGNORE INTO school_admins (email, school_id)
    SELECT lower(trim(a.value)), s.id FROM schools s, json_each(s.admins) a;

-- A school's groups in id order (a page of View Groups), a year's groups by school.
CREATE INDEX groups_school_id ON groups(school_id, id);
CREATE INDEX groups_year_school ON groups(academic_year, school_id);
