"""The test suite; also an installed app (under tests.settings) whose jobs module holds fixture job types."""
