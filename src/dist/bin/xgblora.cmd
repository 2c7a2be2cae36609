@echo off
rem xgblora app image launcher (Windows): the image's own Java runtime and the jars in lib\.
set "XGB_HOME=%~dp0.."
"%XGB_HOME%\runtime\bin\java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC %XGBLORA_JAVA_OPTS% -cp "%XGB_HOME%\lib\*" dev.xgblora.cli.Main %*
