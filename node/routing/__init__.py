"""分派规则: routing rules (domain / sub-business / region / respondent → handling units) edited by
the administrator; they pre-fill the dispatch dialog and, for rules marked so, dispatch by themselves."""
