// A shared library without the recforge plugin entry points.
extern "C" int some_function() { return 42; }
