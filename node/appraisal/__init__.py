"""绩效考核: appraisal schemes (versioned data), period runs that score agents, units and subordinate
centres from the indicator engine, leader adjustments, publication and objections (申诉), and call
quality inspection (质检) whose scores feed the agent scheme. See docs/APPRAISAL.md."""
